/**
 * A service that classifies documents through Nightshift (the README's "Using it from a service",
 * runnable): enqueue every document, then label each one as its result comes back. Run the batcher,
 * the collector and Redis beside it; see this folder's README.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProducer, createResultWorker } from '@nightshift/producer';
import { CLASSIFIER_PROMPT, documents, LABELS } from './documents.js';

const startedAt = Date.now();

/** Your database: the label of each document, here in a JSON file (LABELS_FILE, default labels.json). */
const LABELS_FILE = process.env.LABELS_FILE ?? 'labels.json';
const saved: Record<string, { label: string; cost: number }> = existsSync(LABELS_FILE)
  ? JSON.parse(readFileSync(LABELS_FILE, 'utf8'))
  : {};

/** Idempotent by document: a result handed out again writes the same label again. */
async function saveLabel(docId: string, label: string, cost: number): Promise<void> {
  saved[docId] = { label, cost };
  await writeFile(LABELS_FILE, `${JSON.stringify(saved, null, 2)}\n`);
}

// readme:start
// One Redis, rediss:// (TLS + password) or a Redis Cluster: the same two variables as the roles.
const redis = { redisUrl: process.env.REDIS_URL, clusterNodes: process.env.NIGHTSHIFT_REDIS_CLUSTER_NODES };
const producer = createProducer(redis);

// Each document becomes one request; its custom_id is derived from the document id, so
// re-enqueueing the same document is a no-op.
await producer.enqueueMany(
  documents.map((doc) => ({
    key: doc.id,
    feature: 'classify-docs',
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      system: [{ type: 'text', text: CLASSIFIER_PROMPT, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: `${doc.text}\n\nLabels: ${LABELS.join(', ')}` }],
    },
    metadata: { docId: doc.id },
    deadline: Date.now() + 3 * 86_400_000, // optional; must leave ≥ 24 h + slack
  })),
);

// Results come back through Redis; nobody polls Anthropic.
const results = createResultWorker({
  ...redis,
  handler: async ({ metadata, text, cost }) => {
    await saveLabel((metadata as { docId: string }).docId, text.trim(), cost.cost);
  },
});
// readme:end

// A service keeps its result worker running; this example stops once every document has its label,
// was labelled by an earlier run, or was dead-lettered (`nightshift dead-letters` says why).
console.log(`Enqueued ${documents.length} documents; waiting for their results.`);
for (;;) {
  const open = documents.filter((doc) => !saved[doc.id]);
  const statuses = await Promise.all(
    open.map((doc) => producer.getStatus(producer.customIdFor('classify-docs', doc.id))),
  );
  const settled = statuses.filter(
    (s) => s.state === 'dead' || (s.state === 'succeeded' && (s.completedAt ?? 0) < startedAt),
  );
  if (settled.length === open.length) break;
  await sleep(500);
}
await results.close();
await producer.close();

let total = 0;
for (const doc of documents) {
  const row = saved[doc.id];
  total += row?.cost ?? 0;
  console.log(`${doc.id}: ${row ? row.label : 'no label (dead-lettered, or labelled by an earlier run)'}`);
}
console.log(`Total cost: $${total.toFixed(6)} at batch price.`);
