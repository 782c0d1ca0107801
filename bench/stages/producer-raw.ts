/**
 * Baseline child: raw BullMQ `addBulk` of the same n request objects the producer gets, in
 * sequential chunks of 1,000 with custom jobIds (the custom_ids): BullMQ's recommended bulk path.
 */

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { benchRequests } from '../lib/payloads.js';
import { rawEnqueue } from '../lib/raw.js';
import { meter, type RedisStageArgs, result, rssMB, runChild, stageArgs } from './common.js';

interface Args extends RedisStageArgs {
  queue: string;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const requests = benchRequests(a.n);
  const connection = new Redis(a.redisUrl);
  const queue = new Queue(a.queue, { connection, prefix: a.prefix });
  await queue.waitUntilReady();
  const rssBeforeMB = rssMB();
  const m = meter();
  const { ms } = await rawEnqueue(queue, requests);
  const { cpuMs, gcMs } = m.stop();
  const waiting = await queue.getWaitingCount();
  if (waiting !== a.n) throw new Error(`producer-raw: ${waiting} of ${a.n} jobs waiting`);
  await queue.close();
  await connection.quit();
  result({ stage: 'producer-raw', n: a.n, ms, cpuMs, gcMs, rssBeforeMB });
});
