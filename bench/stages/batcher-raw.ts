/**
 * Baseline child: raw BullMQ fetch of the n waiting jobs the producer baseline added, with
 * `getWaiting(start, end)` pages of 1,000 (read-only getters: no claim, no lock), then
 * `JSON.stringify` of the create body `{"requests":[{custom_id, params}, …]}` built from them.
 */

import type { EnqueueRequest } from '@nightshift/producer';
import { createRedis } from '@nightshift/store';
import { Queue } from 'bullmq';
import { result, rssMB, runChild, since, stageArgs } from './common.js';

interface Args {
  redisUrl: string;
  prefix: string;
  queue: string;
  n: number;
}

const PAGE = 1000;

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'client');
  const queue = new Queue<EnqueueRequest>(a.queue, { connection, prefix: a.prefix });
  await queue.waitUntilReady();
  const rssBeforeMB = rssMB();
  const t0 = performance.now();
  const requests: { custom_id: string; params: EnqueueRequest['params'] }[] = [];
  for (let start = 0; start < a.n; start += PAGE) {
    const jobs = await queue.getWaiting(start, start + PAGE - 1);
    for (const job of jobs) requests.push({ custom_id: job.data.customId!, params: job.data.params });
  }
  const fetchMs = since(t0);
  const t1 = performance.now();
  const body = JSON.stringify({ requests });
  const stringifyMs = since(t1);
  const ms = since(t0);
  if (requests.length !== a.n) throw new Error(`batcher-raw: fetched ${requests.length} of ${a.n} jobs`);
  await queue.close();
  await connection.quit();
  result({
    stage: 'batcher-raw',
    n: a.n,
    ms,
    fetchMs,
    stringifyMs,
    bodyBytes: Buffer.byteLength(body),
    rssBeforeMB,
  });
});
