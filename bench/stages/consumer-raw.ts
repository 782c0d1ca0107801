/**
 * Baseline child (end to end): a plain BullMQ Worker at the same concurrency over n result-sized jobs
 * (added untimed first, with the shape of a delivered result), the same trivial handler.
 */
import { createRedis } from '@nightshift/store';
import { Queue, Worker } from 'bullmq';
import { result, rssMB, runChild, since, stageArgs } from './common.js';

interface Args {
  redisUrl: string;
  prefix: string;
  queue: string;
  n: number;
  concurrency: number;
}

/** A payload shaped like a delivered result (ResultPayload) of a benchmark request. */
function resultLike(i: number) {
  const customId = `bench-${String(i).padStart(7, '0')}`;
  const usage = { input: 240, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 2 };
  return {
    customId,
    feature: 'bench-classify',
    metadata: { doc: i },
    model: 'claude-haiku-4-5',
    message: {
      id: `msg_${customId}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [{ type: 'text', text: 'invoice' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 240, output_tokens: 2, service_tier: 'batch' },
    },
    usage,
    cost: { cost: 0.00012, realtimeEquivalent: 0.00024, savings: 0.00012 },
    batchId: 'msgbatch_bench',
    attempt: 1,
    mode: 'batch',
    completedAt: Date.now(),
  };
}

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'worker');
  const queue = new Queue(a.queue, { connection, prefix: a.prefix });
  for (let i = 0; i < a.n; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(a.n, i + 1000); j++) {
      jobs.push({ name: 'bench-classify', data: resultLike(j), opts: { jobId: `res-${j}x` } });
    }
    await queue.addBulk(jobs);
  }
  let count = 0;
  let chars = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = new Worker(
    a.queue,
    async (job) => {
      chars += job.data.message.content.map((b: { text: string }) => b.text).join('').length;
      if (++count === a.n) finish();
    },
    { connection, prefix: a.prefix, concurrency: a.concurrency, autorun: false },
  );
  const rssBeforeMB = rssMB();
  const t0 = performance.now();
  void worker.run();
  await done;
  const ms = since(t0);
  await worker.close();
  await queue.close();
  await connection.quit();
  result({ stage: 'consumer-raw', n: a.n, ms, chars, rssBeforeMB });
});
