import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { createBoard } from '@nightshift/board';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker, type ResultEvent } from '@nightshift/producer';
import type { DeadLetterPayload } from '@nightshift/shared';
import { createRedis, openQueue, type RedisClient, Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { type RedisCluster, silentLogger, startRedisCluster, waitFor } from '@nightshift/testing';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';
import {
  type Child,
  E2E_BATCHER,
  E2E_COLLECTOR,
  e2eEnv,
  hashTag,
  keysByNode,
  killAll,
  OUR_TAGS,
  runBin,
  workload,
} from './scale-helpers.js';

// The whole pipeline on a real 3-master Redis Cluster whose nodes want a password: every role with
// its own Cluster client, as separate processes would have, then the role bins configured only
// through the environment.
let cluster: RedisCluster;
let emu: Emulator;
// Every node wants this password: REDIS_URL carries it to all of them (and nothing prints it).
const PASSWORD = 'cluster-PW-SECRET-0c4e';
const URL_WITH_PASSWORD = `redis://:${PASSWORD}@127.0.0.1:1`;
const clients: RedisClient[] = [];

/** A fresh Cluster client on the test cluster (REDIS_URL's host is never used in cluster mode). */
function clusterClient(purpose: 'worker' | 'client'): RedisClient {
  const c = createRedis({ url: URL_WITH_PASSWORD, clusterNodes: cluster.seeds }, purpose);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  for (const node of cluster.nodes) {
    const admin = createRedis({ url: node.url }, 'client');
    await admin.config('SET', 'requirepass', PASSWORD);
    admin.disconnect();
  }
  emu = await startEmulator({ quiet: true });
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.quit()));
  await emu?.close();
  await cluster?.stop();
});

describe('the pipeline on a 3-master Redis Cluster', () => {
  it('delivers, retries once and dead-letters with every role on its own Cluster client', async () => {
    const prefix = 'cl1';
    const w = workload('inproc');
    w.inject(emu);
    const client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 0 });
    const producerConn = clusterClient('client');
    expect(producerConn).toBeInstanceOf(Cluster);
    const producer = createProducer({ connection: producerConn, prefix, logger: silentLogger });
    const delivered: ResultEvent[] = [];
    const resultJobs = new Set<string>();
    const results = createResultWorker({
      connection: clusterClient('client'),
      prefix,
      logger: silentLogger,
      handler: (r, job) => {
        delivered.push(r);
        resultJobs.add(job.id ?? '');
      },
    });
    // Two replicas of each role, as two processes each would run them, each on its own client.
    const roleOf = (instance: string) => ({
      connection: clusterClient('worker'),
      prefix,
      client,
      instance,
      logger: silentLogger,
    });
    const batchers = await Promise.all(
      ['b1', 'b2'].map((i) => startBatcher({ ...roleOf(i), ...E2E_BATCHER })),
    );
    const collectors = await Promise.all(
      ['c1', 'c2'].map((i) => startCollector({ ...roleOf(i), ...E2E_COLLECTOR })),
    );
    try {
      const outcomes = await producer.enqueueMany(w.requests);
      expect(outcomes.map((o) => o.outcome)).toEqual(w.all.map(() => 'queued'));
      const beats = await new Store(producerConn, prefix).heartbeats.list();
      expect(beats.map((h) => `${h.role}:${h.instance}`).sort()).toEqual([
        'batcher:b1',
        'batcher:b2',
        'collector:c1',
        'collector:c2',
      ]);

      await waitFor(() => delivered.length === w.delivered.length, {
        timeoutMs: 30_000,
        what: `${w.delivered.length} results delivered (have ${delivered.length})`,
      });
      expect(delivered.map((r) => r.customId).sort()).toEqual([...w.delivered].sort());
      const retried = delivered.find((r) => r.customId === w.ids.retry)!;
      expect(retried.attempt).toBe(2);
      expect(retried.mode).toBe('batch');
      expect(delivered.every((r) => r.text.length > 0 && r.cost.cost > 0)).toBe(true);

      const dead = await waitFor(async () => {
        const s = await producer.getStatus(w.ids.dead);
        return s.state === 'dead' ? s : null;
      });
      expect(dead.reason).toContain('invalid_request_error');
      const deadLetters = openQueue<DeadLetterPayload>('deadLetters', producerConn, prefix);
      const jobs = await deadLetters.getJobs(['waiting', 'completed', 'failed']);
      expect(jobs.map((j) => j.data.customId)).toEqual([w.ids.dead]);
      await deadLetters.close();

      // Delivered, so compacted (by the worker, once the job's handlers are done): the attempt count
      // stays, the history keeps the success only.
      const retryStatus = await waitFor(
        async () => {
          const st = await producer.getStatus(w.ids.retry);
          return st.state === 'succeeded' && st.compacted ? st : null;
        },
        { what: 'the retried request delivered and compacted' },
      );
      expect(retryStatus).toMatchObject({ state: 'succeeded', attempt: 2 });
      if (retryStatus.state !== 'succeeded') throw new Error('unreachable');
      expect(retryStatus.history.map((h) => [h.attempt, h.outcome])).toEqual([[2, 'succeeded']]);
      const store = new Store(producerConn, prefix);
      // The retry went out in a second batch; every batch is collected.
      expect(await rawStore(store).redis.zcard(rawStore(store).keys.batches)).toBeGreaterThanOrEqual(2);
      await waitFor(async () => (await store.batches.inflightIds()).length === 0, {
        what: 'no batch in flight',
      });

      // Retention scans every master for our keys (SCAN has no slot): 40 days on, all is purged.
      const later = await startCollector({
        connection: clusterClient('worker'),
        prefix,
        client,
        runWorker: false,
        now: () => Date.now() + 40 * 86_400_000,
        logger: silentLogger,
      });
      const swept = await later.sweepNow();
      await later.close();
      expect(swept.errors).toEqual([]);
      expect(swept.purged?.records).toBe(w.all.length);
      expect(swept.purged?.batches).toBeGreaterThanOrEqual(2);
      expect(await producer.getStatus(w.ids.ok[0]!)).toMatchObject({ state: 'unknown' });

      // The board reads the same cluster through its own client: pages, JSON and Bull Board.
      const board = await createBoard({
        connection: clusterClient('client'),
        prefix,
        port: 0,
        logger: silentLogger,
      });
      try {
        for (const path of [
          '/',
          '/healthz',
          '/api/overview',
          '/api/batches',
          '/api/dead-letters',
          '/queues/api/queues',
        ]) {
          const res = await fetch(`${board.url}${path}`);
          expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
        }
        const queues = (await (await fetch(`${board.url}/queues/api/queues`)).json()) as {
          queues: { name: string; counts: Record<string, number> }[];
        };
        const counts = Object.fromEntries(queues.queues.map((q) => [q.name, q.counts]));
        // Every result job was handled (resultJobs) and, completed, removed: the text left Redis.
        expect(resultJobs.size).toBeGreaterThan(0);
        expect(counts['{results}']?.completed).toBe(0);
        expect(counts['{dead-letters}']?.waiting).toBe(1);
      } finally {
        await board.close();
      }
    } finally {
      await Promise.all(collectors.map((c) => c.close()));
      await Promise.all(batchers.map((b) => b.close()));
      await results.close();
      await producer.close();
    }
  }, 60_000);
});

describe('the role bins against the cluster, configured only through the environment', () => {
  it('runs the batcher and collector bins; the service and the CLI use the same settings', async () => {
    const prefix = 'cl2';
    const w = workload('bins');
    w.inject(emu);
    const env = {
      REDIS_URL: URL_WITH_PASSWORD,
      NIGHTSHIFT_REDIS_CLUSTER_NODES: cluster.seeds.join(','),
      ...e2eEnv(emu, prefix),
      NIGHTSHIFT_LOG_LEVEL: 'info',
    };
    const children: Child[] = [runBin('batcher', env), runBin('collector', env)];
    const store = new Store(clusterClient('client'), prefix);
    // The service's code as in the README: the same two variables, whatever Redis is behind them.
    const redisOptions = { redisUrl: env.REDIS_URL, clusterNodes: env.NIGHTSHIFT_REDIS_CLUSTER_NODES };
    const delivered: ResultEvent[] = [];
    const results = createResultWorker({
      ...redisOptions,
      prefix,
      logger: silentLogger,
      handler: (r) => {
        delivered.push(r);
      },
    });
    const explain = () => children.map((c) => `[${c.name}] ${c.out.stderr}${c.out.stdout}`).join('\n');
    try {
      let beats: string[] = [];
      await waitFor(
        async () => {
          beats = (await store.heartbeats.list()).map((h) => h.role);
          return beats.length === 2;
        },
        { timeoutMs: 40_000, what: 'heartbeats of the batcher and the collector' },
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; have ${beats.join(',')}`);
      });
      const producer = createProducer({ ...redisOptions, prefix, logger: silentLogger });
      await producer.enqueueMany(w.requests);
      await waitFor(() => delivered.length === w.delivered.length, {
        timeoutMs: 30_000,
        what: `${w.delivered.length} results`,
      });
      expect(delivered.find((r) => r.customId === w.ids.retry)?.attempt).toBe(2);
      await waitFor(async () => (await producer.getStatus(w.ids.dead)).state === 'dead');
      await producer.close();

      const status = await runCliCaptured(['status', '--json'], env);
      expect(status.code, status.err).toBe(0);
      expect(JSON.parse(status.out)).toBeTruthy();

      const codes = await Promise.all(children.map((c) => c.stop()));
      expect(codes, explain()).toEqual([0, 0]);
      for (const c of children) expect(`${c.out.stdout}${c.out.stderr}`).not.toContain(PASSWORD);
      expect(status.out).not.toContain(PASSWORD);
      expect(await store.heartbeats.list()).toEqual([]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${explain()}`, { cause: err });
    } finally {
      await results.close();
      await killAll(children);
    }
  }, 90_000);
});

describe('after both runs', () => {
  it('keeps every key of ours in the slot its hash tag names, and spreads the queues over nodes', async () => {
    const nodes = await keysByNode(cluster, PASSWORD);
    const all = nodes.flatMap((n) => n.keys);
    expect(all.length).toBeGreaterThan(20);
    expect(new Set(all.map(({ key }) => key.split(':')[0])).size).toBe(2);
    const tagNode = new Map<string, number>();
    for (const node of nodes) {
      for (const { key, slot } of node.keys) {
        // Every key is ours (prefix + one of our tags), and sits on the node serving its slot.
        expect(key).toMatch(/^cl\d+:\{[a-z-]+\}:/);
        const tag = hashTag(key);
        expect(OUR_TAGS.has(tag ?? ''), `key ${key} has tag ${tag}`).toBe(true);
        expect(node.ranges.some(([a, b]) => slot >= a && slot <= b)).toBe(true);
        // One tag, one slot, one node: a script or MULTI over one tag's keys never crosses nodes.
        const seen = tagNode.get(tag!);
        expect(seen === undefined || seen === node.port, `tag {${tag}} on two nodes`).toBe(true);
        tagNode.set(tag!, node.port);
      }
    }
    // The runs above used every queue and the store.
    expect([...tagNode.keys()].sort()).toEqual([...OUR_TAGS].sort());
    expect(new Set(tagNode.values()).size).toBeGreaterThan(1);
  });
});
