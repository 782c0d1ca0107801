/**
 * Baseline child (end to end): the raw baselines one after the other in one process, on the same
 * n requests: addBulk → getWaiting + JSON.stringify → iterate the end-to-end run's results streams →
 * a plain BullMQ Worker (same concurrency as the consumer) over n result-sized jobs. With
 * `consumeOnly`, only the last step (the others were measured by the stage section at this n).
 */
import Anthropic from '@anthropic-ai/sdk';
import type { EnqueueRequest } from '@nightshift/producer';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { benchRequests } from '../lib/payloads.js';
import { rawConsume, rawEnqueue, rawFetchBody, rawIterate } from '../lib/raw.js';
import { type RedisStageArgs, result, runChild, stageArgs } from './common.js';

interface Args extends RedisStageArgs {
  emuUrl: string;
  batchIds: string[];
  concurrency: number;
  consumeOnly?: boolean;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = new Redis(a.redisUrl, { maxRetriesPerRequest: null });
  if (a.consumeOnly) {
    const consume = await rawConsume(connection, a.prefix, 'results', a.n, a.concurrency);
    await connection.quit();
    return result({ stage: 'raw-pipeline', n: a.n, consumeMs: consume.ms, ms: consume.ms });
  }
  const requests = benchRequests(a.n);
  const queue = new Queue<EnqueueRequest>('requests', { connection, prefix: a.prefix });
  await queue.waitUntilReady();
  const enqueue = await rawEnqueue(queue as Queue, requests);
  const fetchBody = await rawFetchBody(queue, a.n);
  await queue.close();
  const iterate = await rawIterate(new Anthropic({ apiKey: 'bench-key', baseURL: a.emuUrl }), a.batchIds);
  if (iterate.lines !== a.n) throw new Error(`raw pipeline: ${iterate.lines} of ${a.n} result lines`);
  const consume = await rawConsume(connection, a.prefix, 'results', a.n, a.concurrency);
  await connection.quit();
  result({
    stage: 'raw-pipeline',
    n: a.n,
    enqueueMs: enqueue.ms,
    fetchBodyMs: fetchBody.ms,
    iterateMs: iterate.ms,
    consumeMs: consume.ms,
    ms: enqueue.ms + fetchBody.ms + iterate.ms + consume.ms,
  });
});
