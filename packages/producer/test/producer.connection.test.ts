import { createLogger, NightshiftError } from '@nightshift/shared';
import { createRedis, splitList } from '@nightshift/store';
import { type RedisServer, startRedisServer, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, createResultWorker } from '../src/index.js';
import { uniquePrefix } from './helpers.js';

// How a service tells the producer and the result worker where Redis is. A real Redis Cluster is
// exercised end to end in packages/cli/test/cluster.e2e.test.ts; here: the option's rules.
let server: RedisServer;
const logger = createLogger('producer-connection-test', 'silent');

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

const request = {
  feature: 'classify',
  key: 'doc-1',
  params: { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] },
};

describe('clusterNodes', () => {
  it('takes NIGHTSHIFT_REDIS_CLUSTER_NODES as it is: a comma-separated string, blanks ignored', () => {
    expect(splitList('10.0.0.1:7000, 10.0.0.2:7001,')).toEqual(['10.0.0.1:7000', '10.0.0.2:7001']);
    expect(splitList(['a:1', ' '])).toEqual(['a:1']);
    expect(splitList('')).toBeUndefined();
    expect(splitList(undefined)).toBeUndefined();
  });

  it('unset or empty (the variable not set) means a single Redis at redisUrl', async () => {
    const prefix = uniquePrefix();
    for (const clusterNodes of [undefined, '']) {
      const producer = createProducer({ redisUrl: server.url, clusterNodes, prefix, logger });
      expect((await producer.enqueue(request)).outcome).toMatch(/queued|exists/);
      await producer.close();
    }
    const worker = createResultWorker({
      redisUrl: server.url,
      clusterNodes: '',
      prefix,
      logger,
      handler: () => {},
    });
    await waitFor(() => worker.worker.isRunning());
    await worker.close();
  });

  it('is refused with a connection (which is used as it is) and when a node is not host:port', async () => {
    const redis = createRedis({ url: server.url }, 'client');
    try {
      expect(() => createProducer({ connection: redis, clusterNodes: 'a:1', logger })).toThrow(
        /createProducer: clusterNodes goes with redisUrl/,
      );
      expect(() =>
        createResultWorker({ connection: redis, clusterNodes: ['a:1'], handler: () => {}, logger }),
      ).toThrow(/createResultWorker: clusterNodes goes with redisUrl/);
      expect(() => createProducer({ redisUrl: server.url, clusterNodes: 'no-port', logger })).toThrow(
        NightshiftError,
      );
    } finally {
      await redis.quit();
    }
  });
});

describe('sentinels', () => {
  it('go with redisUrl only, never with clusterNodes, and a Sentinel must be host:port', async () => {
    const redis = createRedis({ url: server.url }, 'client');
    try {
      expect(() => createProducer({ connection: redis, sentinels: 'a:26379', logger })).toThrow(
        /createProducer: sentinels goes with redisUrl/,
      );
      expect(() =>
        createResultWorker({
          redisUrl: server.url,
          sentinels: ['a:1'],
          clusterNodes: 'b:2',
          handler: () => {},
          logger,
        }),
      ).toThrow(/createResultWorker: give clusterNodes or sentinels, not both/);
      expect(() =>
        createProducer({ redisUrl: server.url, sentinels: 'sentinel-without-port', logger }),
      ).toThrow(/NIGHTSHIFT_REDIS_SENTINELS: "sentinel-without-port" is not host:port/);
    } finally {
      await redis.quit();
    }
  });
});
