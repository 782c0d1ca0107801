/** What the service has to classify: in real life, the documents that piled up overnight. */
export interface Document {
  id: string;
  text: string;
}

export const LABELS = ['invoice', 'contract', 'resume', 'support-ticket', 'newsletter'];

// The same system prompt for every request, marked for the prompt cache: the producer groups the
// requests that share it, and the batcher keeps a group in one batch.
export const CLASSIFIER_PROMPT =
  'You classify documents for a records office. Read the whole document, then answer with exactly ' +
  'one label from the list given, and nothing else.';

export const documents: Document[] = [
  { id: 'doc-1', text: 'INVOICE 1001. Amount due: 240.00 EUR within 30 days.' },
  {
    id: 'doc-2',
    text: 'This agreement is made between the parties for the supply of services for 12 months.',
  },
  { id: 'doc-3', text: 'Curriculum vitae: eight years of experience in logistics and planning.' },
  { id: 'doc-4', text: "Ticket #88: the export button fails since yesterday's update. Please help." },
  { id: 'doc-5', text: 'Our monthly newsletter: new opening hours, a staff portrait and upcoming events.' },
  { id: 'doc-6', text: 'INVOICE 1002. Amount due: 99.50 EUR, payable on receipt.' },
];
