import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker } from '@nightshift/producer';
import { createRedis, type RedisClient, Store } from '@nightshift/store';
import { type RedisCluster, silentLogger as silent, startRedisCluster } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_BATCHER, E2E_COLLECTOR, expectFailoverLosesNoRequest } from './scale-helpers.js';

// A 3-master Redis Cluster with one replica per master. Mid-run the master that serves the store's
// slot is killed with SIGKILL; its replica takes the slot over (cluster-node-timeout 2 s) and every
// role, each on its own Cluster client, carries on. Same rules as the Sentinel test: the service
// replays its enqueues, a result may come twice only if first delivered just before the kill.
let cluster: RedisCluster;
let emu: Emulator;
const clients: RedisClient[] = [];

function clusterClient(purpose: 'worker' | 'client'): RedisClient {
  const c = createRedis({ url: 'redis://127.0.0.1:1', clusterNodes: cluster.seeds }, purpose);
  c.on('error', () => {}); // the kill makes them reconnect; what they meet is not the point here
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startRedisCluster(3, { replicas: 1 });
  emu = await startEmulator({ quiet: true, processing: { delayMs: 600 } });
}, 90_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await emu?.close();
  await cluster?.stop();
});

describe('a Redis Cluster master failover', () => {
  it("loses no request when the store's master dies and its replica takes over", async () => {
    const prefix = 'cf1';
    const client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 2 });
    const deliveries: { customId: string; at: number }[] = [];
    const results = createResultWorker({
      connection: clusterClient('client'),
      prefix,
      logger: silent,
      handler: (r) => {
        deliveries.push({ customId: r.customId, at: Date.now() });
      },
    });
    const producer = createProducer({ connection: clusterClient('client'), prefix, logger: silent });
    const batcher = await startBatcher({
      connection: clusterClient('worker'),
      prefix,
      client,
      ...E2E_BATCHER,
      maxRequests: 20,
      logger: silent,
    });
    batcher.on('error', () => {});
    const collector = await startCollector({
      connection: clusterClient('worker'),
      prefix,
      client,
      ...E2E_COLLECTOR,
      logger: silent,
    });
    collector.on('error', () => {});
    const store = new Store(clusterClient('client'), prefix);
    try {
      await expectFailoverLosesNoRequest({
        producer,
        store,
        deliveries,
        kill: async () => {
          const { killed, promoted } = await cluster.killMasterOf(`${prefix}:{req}:any`);
          expect(promoted).not.toBe(killed);
          return `cluster failover (${killed} → ${promoted})`;
        },
      });
    } finally {
      await collector.close();
      await batcher.close();
      await results.close();
      await producer.close();
    }
  }, 150_000);
});
