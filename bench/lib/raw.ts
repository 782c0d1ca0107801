/**
 * The raw baselines: what the stages do, done with plain BullMQ and the SDK and nothing else.
 * Each returns its own timing; the stage children and the raw end-to-end pipeline share them.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { EnqueueRequest } from '@nightshift/producer';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { benchCustomId } from './payloads.js';

const CHUNK = 1000;
/** Results per job, as the collector packs them by default (`resultsPerJob`). */
const RESULTS_PER_JOB = 100;
const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

/** `addBulk` of the request objects in sequential chunks of 1,000, jobId = custom_id. */
export async function rawEnqueue(queue: Queue, requests: EnqueueRequest[]): Promise<{ ms: number }> {
  const t0 = performance.now();
  for (let i = 0; i < requests.length; i += CHUNK) {
    await queue.addBulk(
      requests.slice(i, i + CHUNK).map((r) => ({ name: r.feature, data: r, opts: { jobId: r.customId! } })),
    );
  }
  return { ms: ms(t0) };
}

/** `getWaiting` pages of 1,000 over n waiting jobs, then `JSON.stringify` of the create body. */
export async function rawFetchBody(queue: Queue<EnqueueRequest>, n: number) {
  const t0 = performance.now();
  const requests: { custom_id: string; params: EnqueueRequest['params'] }[] = [];
  for (let start = 0; start < n; start += CHUNK) {
    const jobs = await queue.getWaiting(start, start + CHUNK - 1);
    for (const job of jobs) requests.push({ custom_id: job.data.customId!, params: job.data.params });
  }
  const fetchMs = ms(t0);
  const t1 = performance.now();
  const body = JSON.stringify({ requests });
  const stringifyMs = ms(t1);
  if (requests.length !== n) throw new Error(`raw fetch: ${requests.length} of ${n} jobs`);
  return { ms: ms(t0), fetchMs, stringifyMs, bodyBytes: Buffer.byteLength(body) };
}

/** Iterates the batches' `results()` streams (each line parsed by the SDK), applying nothing. */
export async function rawIterate(client: Anthropic, batchIds: string[]) {
  const t0 = performance.now();
  let lines = 0;
  let succeeded = 0;
  for (const id of batchIds) {
    for await (const line of await client.messages.batches.results(id)) {
      if (line.custom_id) lines++;
      if (line.result.type === 'succeeded') succeeded++;
    }
  }
  return { ms: ms(t0), lines, succeeded };
}

/** A payload shaped like a delivered result (ResultPayload) of a benchmark request. */
function resultLike(i: number) {
  const customId = benchCustomId(i);
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
    usage: { input: 240, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 2 },
    cost: { cost: 0.00012, realtimeEquivalent: 0.00024, savings: 0.00012 },
    batchId: 'msgbatch_bench',
    attempt: 1,
    mode: 'batch',
    completedAt: Date.now(),
  };
}

/**
 * Adds n results (untimed) packed like the collector packs them (`RESULTS_PER_JOB` to a job), then
 * times a plain BullMQ Worker at `concurrency` reading each result's text until all n were handled.
 */
export async function rawConsume(
  connection: Redis,
  prefix: string,
  name: string,
  n: number,
  concurrency: number,
): Promise<{ ms: number }> {
  const queue = new Queue(name, { connection, prefix });
  for (let i = 0; i < n; i += CHUNK) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j += RESULTS_PER_JOB) {
      const results = [];
      for (let k = j; k < Math.min(n, i + CHUNK, j + RESULTS_PER_JOB); k++) results.push(resultLike(k));
      jobs.push({ name: 'bench-classify', data: { results }, opts: { jobId: `res-raw-${j}` } });
    }
    await queue.addBulk(jobs);
  }
  let count = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = new Worker(
    name,
    async (job) => {
      for (const r of job.data.results) {
        const text = r.message.content.map((b: { text: string }) => b.text).join('');
        if (text && ++count === n) finish();
      }
    },
    { connection, prefix, concurrency, autorun: false },
  );
  const t0 = performance.now();
  void worker.run();
  await done;
  const took = ms(t0);
  await worker.close();
  await queue.close();
  return { ms: took };
}
