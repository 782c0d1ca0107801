import type { EnqueueRequest } from '@nightshift/producer';

export const DEMO_FEATURE = 'demo-classify';
const DEMO_MODEL = 'claude-haiku-4-5';
const LABELS = ['invoice', 'contract', 'resume', 'support-ticket', 'newsletter'];

// Long enough (> 1,024 tokens) to be cached; shared by every request so the batcher groups them and
// every request after the first in a batch reads it from the cache.
const GUIDE = Array.from(
  { length: 40 },
  (_, i) =>
    `Rule ${i + 1}: read the whole document before deciding; prefer the label that matches the document's purpose, ` +
    `not words that merely appear in it; when two labels fit, choose the one a records clerk would file it under.`,
).join('\n');

const SYSTEM = `You classify documents for a records office. Answer with exactly one label from the list given.\n${GUIDE}`;

/** A small deterministic pseudo-random generator, so every run makes the same documents. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `count` sample documents to classify, with deterministic keys (`doc-0001` …): re-runs are idempotent. */
export function demoRequests(count: number): EnqueueRequest[] {
  const rand = rng(42);
  const kinds = [
    (n: number) => `INVOICE ${1000 + n}. Amount due: ${(rand() * 900 + 100).toFixed(2)} EUR within 30 days.`,
    (n: number) =>
      `This agreement (no. ${n}) is made between the parties for the supply of services for 12 months.`,
    (n: number) => `Curriculum vitae of applicant ${n}: eight years of experience in logistics and planning.`,
    (n: number) =>
      `Ticket #${n}: the export button fails with an error since yesterday's update. Please help.`,
    (n: number) =>
      `Our monthly newsletter, issue ${n}: new opening hours, a staff portrait and upcoming events.`,
  ];
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const text = kinds[Math.floor(rand() * kinds.length)]!(n);
    return {
      key: `doc-${String(n).padStart(4, '0')}`,
      feature: DEMO_FEATURE,
      params: {
        model: DEMO_MODEL,
        max_tokens: 10,
        system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral', ttl: '1h' } }],
        messages: [{ role: 'user', content: `${text}\n\nLabels: ${LABELS.join(', ')}` }],
      },
      metadata: { document: n },
    };
  });
}
