import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker } from '@nightshift/producer';
import { connectionFromEnv, createRedis, describeRedis, Store } from '@nightshift/store';
import { type RedisSentinelSet, silentLogger, startRedisSentinelSet, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';
import { type Child, e2eEnv, expectFailoverLosesNoRequest, killAll, runBin } from './scale-helpers.js';

// The pipeline behind Redis Sentinel (Debian's redis-sentinel): one master, one replica, three
// Sentinels. The batcher and collector are bins configured only through the environment, the
// service uses the same variables; the master is killed with SIGKILL mid-run and a replica takes
// over. Replication is asynchronous, so what the master acknowledged in its last instant may be
// gone (RELIABILITY.md "What each fsync policy guarantees"): the service replays its enqueues, as
// documented, and a result may be delivered twice only if it was first delivered just before the
// kill. Everything else must hold exactly.
let set: RedisSentinelSet;
let emu: Emulator;

beforeAll(async () => {
  set = await startRedisSentinelSet({ replicas: 1, sentinels: 3 });
  // Batches take a moment to end, so some are in flight when the master dies.
  emu = await startEmulator({ quiet: true, processing: { delayMs: 600 } });
}, 60_000);
afterAll(async () => {
  await emu?.close();
  await set?.stop();
});

describe('the pipeline through Redis Sentinel', () => {
  it('keeps going through a master failover: every request one final outcome, nothing lost', async () => {
    const prefix = 'sn1';
    const env = {
      // The URL's host is not used with Sentinels (its password and TLS would be).
      REDIS_URL: 'redis://127.0.0.1:1',
      NIGHTSHIFT_REDIS_SENTINELS: set.sentinels.join(','),
      NIGHTSHIFT_REDIS_SENTINEL_MASTER: set.masterName,
      ...e2eEnv(emu, prefix),
      NIGHTSHIFT_MAX_REQUESTS: '20',
      NIGHTSHIFT_LOG_LEVEL: 'info',
    };
    const settings = connectionFromEnv(env);
    expect(describeRedis(settings)).toBe(`Redis Sentinel master mymaster via ${set.sentinels.join(',')}`);
    const children: Child[] = [runBin('batcher', env), runBin('collector', env)];
    const storeRedis = createRedis(settings, 'worker');
    storeRedis.on('error', () => {}); // the kill makes it reconnect; what it meets is not the point
    const store = new Store(storeRedis, prefix);
    // The service's code: the same variables, passed through as they are.
    const redisOptions = {
      redisUrl: env.REDIS_URL,
      sentinels: env.NIGHTSHIFT_REDIS_SENTINELS,
      sentinelMaster: env.NIGHTSHIFT_REDIS_SENTINEL_MASTER,
    };
    const deliveries: { customId: string; at: number }[] = [];
    const results = createResultWorker({
      ...redisOptions,
      prefix,
      logger: silentLogger,
      handler: (r) => {
        deliveries.push({ customId: r.customId, at: Date.now() });
      },
    });
    const producer = createProducer({ ...redisOptions, prefix, logger: silentLogger });
    const explain = () => children.map((c) => `[${c.name}] ${c.out.stderr}${c.out.stdout}`).join('\n');
    try {
      await waitFor(async () => (await store.heartbeats.list()).length === 2, {
        timeoutMs: 40_000,
        what: 'heartbeats of the batcher and the collector',
      });
      const oldMaster = await set.masterPort();
      await expectFailoverLosesNoRequest({
        producer,
        store,
        deliveries,
        kill: async () => {
          expect(await set.killMaster()).not.toBe(oldMaster);
          return 'sentinel failover';
        },
      });

      // The CLI reads the same settings.
      const status = await runCliCaptured(['status', '--json'], env);
      expect(status.code, status.err).toBe(0);

      const codes = await Promise.all(children.map((c) => c.stop()));
      expect(codes, explain()).toEqual([0, 0]);
    } catch (err) {
      const status = await runCliCaptured(['status', '--json'], env);
      const batches = await runCliCaptured(['batches', '--json'], env);
      throw new Error(
        `${(err as Error).message}\nstatus: ${status.all}\nbatches: ${batches.all}\n${explain()}`,
        { cause: err },
      );
    } finally {
      await results.close();
      await producer.close();
      storeRedis.disconnect();
      await killAll(children);
    }
  }, 150_000);
});
