import { QUEUES } from '@nightshift/shared';
import { type RedisCluster, startRedisCluster } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, openQueue, type RedisClient, Store } from '../src/index.js';

// The store's scripts and BullMQ queues on a real 3-master Redis Cluster.
let cluster: RedisCluster;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  redis = createRedis({ url: 'redis://127.0.0.1', clusterNodes: cluster.seeds });
}, 60_000);
afterAll(async () => {
  await redis?.quit();
  await cluster?.stop();
});

describe('on a Redis Cluster', () => {
  it('runs the store scripts in the {req} slot', async () => {
    const store = new Store(redis, 'cl');
    const params = JSON.stringify({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] });
    const item = {
      cid: 'a',
      feature: 'f',
      model: 'm',
      params,
      phash: 'h',
      meta: '',
      deadline: null,
      partition: 'default',
      group: 'g',
      bytes: 10,
      realtimeAllowed: false,
      state: 'queued' as const,
    };
    expect(await store.records.enqueue([item, { ...item, cid: 'b' }])).toEqual([
      { code: 'new' },
      { code: 'new' },
    ]);
    await store.submissions.open({
      id: 's',
      partition: 'default',
      reason: 'manual',
      owner: 'o',
      leaseMs: 1000,
    });
    expect((await store.submissions.claim('g', 's', 10, 1e6)).items).toHaveLength(2);
    expect((await store.pending.overview()).total).toBe(0);
  });

  it('spreads the queues over more than one slot owner', async () => {
    const slots = await Promise.all(
      Object.values(QUEUES).map(async (name) =>
        (redis as import('ioredis').Cluster).cluster('KEYSLOT', `cl:${name}:wait`),
      ),
    );
    expect(new Set(slots).size).toBe(Object.values(QUEUES).length);
    const q = openQueue('results', redis, 'cl');
    await q.add('x', { a: 1 }, { jobId: 'res-a' });
    expect(await q.getJobCounts('waiting')).toEqual({ waiting: 1 });
    await q.close();
  });
});
