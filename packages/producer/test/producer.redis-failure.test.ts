import { NightshiftError } from '@nightshift/shared';
import { createRedis, type RedisClient, Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { type RedisServer, silentLogger, startRedisServer, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, type EnqueueRequest } from '../src/index.js';

let server: RedisServer;
let redis: RedisClient;
let watcher: RedisClient;

beforeAll(async () => {
  // appendfsync always: whatever a client saw written is on disk when redis-server is killed.
  server = await startRedisServer({ appendonly: true, appendfsync: 'always' });
  redis = createRedis({ url: server.url }, 'client');
  watcher = createRedis({ url: server.url }, 'client');
  for (const c of [redis, watcher]) c.on('error', () => {});
});
afterAll(async () => {
  redis.disconnect();
  watcher.disconnect();
  await server.stop();
});

const N = 10_000;
const requests: EnqueueRequest[] = Array.from({ length: N }, (_, i) => ({
  feature: 'classify-docs',
  key: `doc-${i}`,
  params: {
    model: 'claude-haiku-4-5',
    max_tokens: 8,
    system: 'Labels: invoice, contract, other',
    messages: [{ role: 'user', content: `document ${i}` }],
  },
}));

describe('when redis-server dies in the middle of enqueueMany', () => {
  it('calling again with the same input completes it, without duplicates', async () => {
    const prefix = 'crash';
    const store = new Store(redis, prefix);
    const producer = createProducer({ connection: redis, prefix, logger: silentLogger });
    const counted = async (c: RedisClient) =>
      Number((await c.hget(rawStore(store).keys.partitionCount, 'default')) ?? 0);

    const first = producer.enqueueMany(requests).then(
      () => null,
      (err: unknown) => err,
    );
    // Kill as soon as the first slice is visible: the rest of the call is still on its way.
    await waitFor(async () => (await counted(watcher)) > 0, { intervalMs: 2, what: 'a first slice written' });
    await server.kill9();
    const err = await first;
    expect(err).toBeInstanceOf(Error);
    if (err instanceof NightshiftError) expect(err.code).toBe('REDIS_UNAVAILABLE');

    await server.restart();
    await waitFor(async () => (await redis.ping()) === 'PONG', { what: 'the producer reconnected' });
    const survived = await counted(redis);
    expect(survived).toBeGreaterThan(0);
    expect(survived).toBeLessThan(N);

    const again = await producer.enqueueMany(requests);
    const outcomes = { queued: 0, exists: 0 } as Record<string, number>;
    for (const r of again) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    expect(outcomes).toEqual({ exists: survived, queued: N - survived });

    // Exactly N requests, each once: the counters, the pending index and the records agree.
    expect(await counted(redis)).toBe(N);
    const overview = await store.pending.overview();
    expect(overview.total).toBe(N);
    let pending = 0;
    for (const g of overview.groups) pending += await redis.zcard(rawStore(store).keys.pending(g.group));
    expect(pending).toBe(N);
    let records = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', rawStore(store).keys.record('*'), 'COUNT', 5000);
      records += keys.length;
      cursor = next;
    } while (cursor !== '0');
    expect(records).toBe(N);
    await producer.close();
  });
});
