// A plain ESM service (no TypeScript, no build): enqueues a few requests and receives their results
// through createResultWorker while the batcher and collector run as their own processes. Prints one
// JSON line of what it received.
import { createProducer, createResultWorker } from '@nightshift/producer';

setTimeout(() => {
  console.error('esm-service: no results within 60 s');
  process.exit(2);
}, 60_000).unref();

const connection = { redisUrl: process.env.REDIS_URL, prefix: process.env.NIGHTSHIFT_PREFIX };
const producer = createProducer(connection);
const notes = ['The invoice is overdue.', 'Please renew the contract.', 'The parcel arrived damaged.'];
const enqueued = await producer.enqueueMany(
  notes.map((text, i) => ({
    key: `note-${i}`,
    feature: 'esm-service',
    params: { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: text }] },
    metadata: { note: i },
  })),
);

const received = [];
let allReceived;
const all = new Promise((resolve) => {
  allReceived = resolve;
});
const worker = createResultWorker({
  ...connection,
  handler: ({ customId, metadata, text, batchId, mode, cost }) => {
    received.push({ customId, metadata, text, batchId, mode, cost: cost.cost });
    if (received.length === notes.length) allReceived();
  },
});
await all;
const statuses = await Promise.all(enqueued.map((r) => producer.getStatus(r.customId)));
await worker.close();
await producer.close();
console.log(JSON.stringify({ enqueued, received, states: statuses.map((s) => s.state) }));
