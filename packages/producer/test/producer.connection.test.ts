import { NightshiftError } from '@nightshift/shared';
import { createRedis, splitList } from '@nightshift/store';
import { silentLogger, uniquePrefix, useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { createProducer, createResultWorker } from '../src/index.js';

// How a service tells the producer and the result worker where Redis is. A real Redis Cluster is
// exercised end to end in packages/cli/test/cluster.e2e.test.ts; here: the option's rules.
const fx = useRedis((url) => createRedis({ url }, 'client'));

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
      const producer = createProducer({ redisUrl: fx.url, clusterNodes, prefix, logger: silentLogger });
      expect((await producer.enqueue(request)).outcome).toMatch(/queued|exists/);
      await producer.close();
    }
    const worker = createResultWorker({
      redisUrl: fx.url,
      clusterNodes: '',
      prefix,
      logger: silentLogger,
      handler: () => {},
    });
    await waitFor(() => worker.worker.isRunning());
    await worker.close();
  });

  it('is refused with a connection (which is used as it is) and when a node is not host:port', async () => {
    expect(() => createProducer({ connection: fx.redis, clusterNodes: 'a:1', logger: silentLogger })).toThrow(
      /createProducer: clusterNodes goes with redisUrl/,
    );
    expect(() =>
      createResultWorker({
        connection: fx.redis,
        clusterNodes: ['a:1'],
        handler: () => {},
        logger: silentLogger,
      }),
    ).toThrow(/createResultWorker: clusterNodes goes with redisUrl/);
    expect(() => createProducer({ redisUrl: fx.url, clusterNodes: 'no-port', logger: silentLogger })).toThrow(
      NightshiftError,
    );
  });
});

describe('sentinels', () => {
  it('go with redisUrl only, never with clusterNodes, and a Sentinel must be host:port', async () => {
    expect(() =>
      createProducer({ connection: fx.redis, sentinels: 'a:26379', logger: silentLogger }),
    ).toThrow(/createProducer: sentinels goes with redisUrl/);
    expect(() =>
      createResultWorker({
        redisUrl: fx.url,
        sentinels: ['a:1'],
        clusterNodes: 'b:2',
        handler: () => {},
        logger: silentLogger,
      }),
    ).toThrow(/createResultWorker: give clusterNodes or sentinels, not both/);
    expect(() =>
      createProducer({ redisUrl: fx.url, sentinels: 'sentinel-without-port', logger: silentLogger }),
    ).toThrow(/NIGHTSHIFT_REDIS_SENTINELS: "sentinel-without-port" is not host:port/);
  });
});
