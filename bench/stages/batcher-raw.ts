/**
 * Baseline child: raw BullMQ fetch of the n waiting jobs the producer baseline added, with
 * `getWaiting(start, end)` pages of 1,000 (read-only getters: no claim, no lock), then
 * `JSON.stringify` of the create body `{"requests":[{custom_id, params}, …]}` built from them.
 */
import type { EnqueueRequest } from '@nightshift/producer';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { rawFetchBody } from '../lib/raw.js';
import { meter, type RedisStageArgs, result, rssMB, runChild, stageArgs } from './common.js';

interface Args extends RedisStageArgs {
  queue: string;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = new Redis(a.redisUrl);
  const queue = new Queue<EnqueueRequest>(a.queue, { connection, prefix: a.prefix });
  await queue.waitUntilReady();
  const rssBeforeMB = rssMB();
  const m = meter();
  const figures = await rawFetchBody(queue, a.n);
  const { cpuMs, gcMs } = m.stop();
  await queue.close();
  await connection.quit();
  result({ stage: 'batcher-raw', n: a.n, ...figures, cpuMs, gcMs, rssBeforeMB });
});
