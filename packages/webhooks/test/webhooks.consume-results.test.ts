/**
 * `consumeResults`: a deployment with no result worker (HTTP API and webhooks only). The webhooks
 * role hands each result over once its request.succeeded deliveries exist, then `{results}` is
 * emptied and the records compacted. Real redis-server, real receiver process, real HTTP.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobIds, QUEUES, type WebhookEnvelope } from '@nightshift/shared';
import {
  createRedis,
  EventOutbox,
  openQueue,
  type RedisClient,
  Store,
  WebhookEndpoints,
} from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { freePort, keepOutput, silentLogger, spawnTs, useRedis, waitFor } from '@nightshift/testing';
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhooks, type Webhooks } from '../src/index.js';
import { reportResultsConsumer, resultsConsumerHint } from '../src/results-consumer.js';
import { item, type Received, receiver, succeed } from './helpers.js';

const ROLE = new URL('./fixtures/webhooks-role.ts', import.meta.url).pathname;
const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let worker: RedisClient;
let dir: string;
const running: Webhooks[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  worker = createRedis({ url: fx.url }, 'worker');
  dir = mkdtempSync(join(tmpdir(), 'nightshift-consume-results-'));
});
afterAll(async () => {
  await Promise.all(running.map((w) => w.close()));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await worker.quit();
  rmSync(dir, { recursive: true, force: true });
});

const start = async (prefix: string, consumeResults: boolean) => {
  const w = await startWebhooks({
    connection: worker,
    prefix,
    backoffMs: 40,
    allowPrivate: true,
    claimIdleMs: 600,
    consumeResults,
    logger: silentLogger,
  });
  running.push(w);
  return w;
};

/** Job counts of `{results}` that are not 0. */
async function resultJobs(store: Store) {
  const q = openQueue('results', rawStore(store).redis, store.prefix);
  const counts = await q.getJobCounts('wait', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  await q.close();
  return Object.fromEntries(Object.entries(counts).filter(([, v]) => v > 0));
}

async function compacted(store: Store, cids: string[]) {
  const recs = await store.records.peek(cids, ['state', 'customId']);
  return recs.filter((r) => r?.state === 'succeeded' && r.customId === '').length;
}

/**
 * A store on `prefix` with the endpoint `svc` subscribed to request.succeeded, and a receiver
 * process started for it (verifying its signatures, logging to `log`; `more` adds its options).
 */
async function svcReceiver(prefix: string, log: string, more: Record<string, unknown> = {}) {
  const store = new Store(fx.redis, prefix);
  const port = await freePort();
  const { secret } = await new WebhookEndpoints(store).register({
    name: 'svc',
    url: `http://127.0.0.1:${port}/svc`,
    events: ['request.succeeded'],
  });
  const rx = receiver({ port, log: join(dir, log), secrets: { '/svc': secret }, ...more });
  await rx.start();
  return { store, port, rx };
}

const cidsOf = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

/** Accepted (204, signature verified) deliveries per webhook-id. */
function accepted(log: Received[]) {
  const by = new Map<string, Received[]>();
  for (const r of log.filter((x) => x.status === 204 && x.verified))
    by.set(r.id, [...(by.get(r.id) ?? []), r]);
  return by;
}

describe('when the webhooks role consumes {results}', () => {
  it('delivers every request.succeeded once with its text, then empties {results} and compacts', async () => {
    const prefix = 'cr1';
    const { store, port, rx } = await svcReceiver(prefix, 'rx1.jsonl');
    // An endpoint whose filter matches nothing: its events are fanned out to no one, and those
    // results must be handed over all the same.
    await new WebhookEndpoints(store).register({
      name: 'other',
      url: `http://127.0.0.1:${port}/other`,
      events: ['request.succeeded'],
      features: ['nothing-here'],
    });
    const cids = cidsOf('a', 60);
    await store.records.enqueue(cids.map((c) => item(c)));
    await start(prefix, true);
    for (let i = 0; i < cids.length; i += 20) await succeed(store, cids.slice(i, i + 20), `msgbatch_${i}`);
    await waitFor(async () => (await compacted(store, cids)) === cids.length, {
      timeoutMs: 20_000,
      what: 'every record compacted',
    });
    await waitFor(async () => Object.keys(await resultJobs(store)).length === 0, {
      timeoutMs: 20_000,
      what: '{results} empty',
    });
    await waitFor(() => accepted(rx.received()).size === cids.length, {
      timeoutMs: 20_000,
      what: 'every webhook delivered',
    });
    const got = accepted(rx.received());
    for (const cid of cids) {
      const [first, ...again] = [...got.entries()].find(([id]) => id.endsWith(`-${cid}-ok`))?.[1] ?? [];
      expect(first, cid).toBeDefined();
      expect(again).toHaveLength(0);
      const body = JSON.parse(first!.body) as WebhookEnvelope<'request.succeeded'>;
      expect(body.data.text).toBe(`summary of ${cid}`);
    }
    expect(await resultJobs(store)).toEqual({});
    await rx.kill('SIGTERM');
  }, 60_000);

  it('hands over results no endpoint wants, with or without an event, and leaves no text behind', async () => {
    const prefix = 'cr2';
    const store = new Store(fx.redis, prefix);
    const endpoints = new WebhookEndpoints(store);
    await endpoints.register({
      name: 'failures-only',
      url: 'http://127.0.0.1:9/x',
      events: ['request.failed'],
    });
    const noEvent = cidsOf('b', 30);
    const noTarget = cidsOf('t', 30);
    await store.records.enqueue([...noEvent, ...noTarget].map((c) => item(c)));
    await start(prefix, true);
    // No endpoint subscribes to request.succeeded: no event, the consumer compacts.
    await succeed(store, noEvent, 'msgbatch_b');
    // One subscribes, filtered to another feature: events fanned out to no one, the dispatcher compacts.
    await endpoints.register({
      name: 'elsewhere',
      url: 'http://127.0.0.1:9/y',
      events: ['request.succeeded'],
      features: ['nothing-here'],
    });
    await succeed(store, noTarget, 'msgbatch_t');
    await waitFor(async () => Object.keys(await resultJobs(store)).length === 0, {
      timeoutMs: 20_000,
      what: '{results} empty',
    });
    expect(await compacted(store, [...noEvent, ...noTarget])).toBe(60);
    expect(await new EventOutbox(store).backlog()).toBe(0);
  }, 30_000);

  it('off (the default): a result worker’s jobs are left alone, and an unconsumed queue is named', async () => {
    const prefix = 'cr3';
    const { store, rx } = await svcReceiver(prefix, 'rx3.jsonl');
    const cids = cidsOf('c', 10);
    await store.records.enqueue(cids.map((c) => item(c)));
    const w = await start(prefix, false);
    await succeed(store, cids, 'msgbatch_c');
    await waitFor(() => accepted(rx.received()).size === cids.length, {
      timeoutMs: 20_000,
      what: 'every webhook delivered',
    });
    expect(await resultJobs(store)).toEqual({ wait: 1 });
    expect(await compacted(store, cids)).toBe(0);
    // apply.lua marked each success whose request.succeeded event it wrote.
    const marks = await store.records.peek(cids, ['webhookPending']);
    expect(marks.map((m) => m?.webhookPending)).toEqual(cids.map(() => '1'));
    const results = openQueue('results', rawStore(store).redis, prefix);
    expect(await resultsConsumerHint(results, false, Date.now())).toBeUndefined(); // not old yet
    expect(await resultsConsumerHint(results, false, Date.now() + 11 * 60_000)).toMatch(
      /no worker consumes it.*NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS=true/,
    );
    // The role's check puts it on the board, and takes it off once it no longer holds.
    await reportResultsConsumer(store, results, false, Date.now() + 11 * 60_000, silentLogger);
    expect((await store.alerts.list()).map((a) => a.code)).toEqual(['results-unconsumed']);
    await reportResultsConsumer(store, results, false, Date.now(), silentLogger);
    expect(await store.alerts.list()).toEqual([]);
    // A service's result worker appears: nothing to say with the setting off, a warning with it on.
    const service = new Worker(QUEUES.results, async () => {}, {
      connection: worker,
      prefix,
      name: 'result-worker-test',
    });
    await service.waitUntilReady();
    await waitFor(async () => (await results.getWorkers()).length > 0, { what: 'the worker listed' });
    expect(await resultsConsumerHint(results, false, Date.now() + 11 * 60_000)).toBeUndefined();
    expect(await resultsConsumerHint(results, true, Date.now())).toMatch(/1 other worker\(s\) consume/);
    await service.close();
    await results.close();
    await w.close();
    await rx.kill('SIGTERM');
  }, 30_000);
});

describe('a dispatcher that died mid-way through a hand-over', () => {
  it('before or after compacting: the events are fanned out again to the same jobs, and {results} empties', async () => {
    const prefix = 'cr5';
    const { store, rx } = await svcReceiver(prefix, 'rx5.jsonl');
    const before = cidsOf('p', 5); // died after adding the deliveries, before compacting
    const after = cidsOf('q', 5); // died after compacting (and its job completed), before the ack
    await store.records.enqueue([...before, ...after].map((c) => item(c)));
    await succeed(store, before, 'msgbatch_p');
    await succeed(store, after, 'msgbatch_q');
    const outbox = new EventOutbox(store);
    await outbox.ensureGroup();
    const events = await outbox.read('dead-dispatcher', 20, 10);
    expect(events).toHaveLength(10);
    const deliveries = openQueue('webhooks', fx.redis, prefix);
    for (const ev of events) {
      const body = JSON.stringify({
        type: ev.type,
        timestamp: 'x',
        data: { customId: ev.fields.c, text: 'first' },
      });
      await deliveries.add(
        ev.type,
        { eventId: ev.id, endpoint: 'svc', type: ev.type, body, at: 1 },
        { jobId: jobIds.webhook('svc', ev.id), attempts: 3 },
      );
    }
    await deliveries.close();
    expect(await store.outcomes.delivered(`res-msgbatch_q-${after[0]}`, after)).toEqual(
      after.map(() => true),
    );
    const results = openQueue('results', fx.redis, prefix);
    await results.remove(`res-msgbatch_q-${after[0]}`);
    await results.close();
    await start(prefix, true);
    await waitFor(async () => (await outbox.backlog()) === 0, {
      timeoutMs: 15_000,
      what: 'the outbox empty',
    });
    await waitFor(async () => Object.keys(await resultJobs(store)).length === 0, {
      timeoutMs: 15_000,
      what: '{results} empty',
    });
    await waitFor(() => accepted(rx.received()).size === 10, { timeoutMs: 15_000, what: '10 webhooks' });
    expect(await compacted(store, [...before, ...after])).toBe(10);
    // Each event went out once, with the body its first fan-out stored.
    const got = [...accepted(rx.received()).values()];
    expect(got.every((l) => l.length === 1)).toBe(true);
    expect(got.map(([r]) => (JSON.parse(r!.body) as { data: { text: string } }).data.text)).toEqual(
      got.map(() => 'first'),
    );
    await rx.kill('SIGTERM');
  }, 30_000);
});

describe('a success applied before the whp mark existed', () => {
  it('is not compacted while an event older than it waits in the outbox: its webhook keeps its text', async () => {
    const prefix = 'cr6';
    const { store, rx } = await svcReceiver(prefix, 'rx6.jsonl');
    const cids = cidsOf('u', 5);
    await store.records.enqueue(cids.map((c) => item(c)));
    await succeed(store, cids, 'msgbatch_u');
    // As an earlier version left them: no whp, and their events read by a dispatcher that died, so
    // they are claimed only after claimIdleMs; the consumer sees the job first.
    const { redis, keys } = rawStore(store);
    for (const c of cids) await redis.hdel(keys.record(c), 'whp');
    const outbox = new EventOutbox(store);
    await outbox.ensureGroup();
    expect(await outbox.read('dead-dispatcher', 10, 10)).toHaveLength(5);
    await start(prefix, true);
    await waitFor(async () => Object.keys(await resultJobs(store)).length === 0, {
      timeoutMs: 15_000,
      what: '{results} empty',
    });
    await waitFor(() => accepted(rx.received()).size === 5, { timeoutMs: 15_000, what: '5 webhooks' });
    for (const [id, [r]] of accepted(rx.received())) {
      const body = JSON.parse(r!.body) as WebhookEnvelope<'request.succeeded'>;
      expect(body.data.text, id).toBe(`summary of ${body.data.customId}`);
    }
    expect(await compacted(store, cids)).toBe(5);
    await rx.kill('SIGTERM');
  }, 30_000);
});

describe('a webhooks process consuming {results} killed with -9', () => {
  it('loses no webhook, sends none twice beyond those in progress, and still empties {results}', async () => {
    const prefix = 'cr4';
    // Every third delivery is slow, so the kill finds some in progress.
    const { store, rx } = await svcReceiver(prefix, 'rx4.jsonl', { slowEvery: 3, slowMs: 1_000 });
    const role = async () => {
      const child = spawnTs(ROLE, [JSON.stringify({ url: fx.url, prefix, consumeResults: true })], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const out = keepOutput(child);
      await waitFor(() => out().includes('started'), {
        timeoutMs: 15_000,
        what: 'the webhook role to start',
      });
      return child;
    };
    const cids = cidsOf('k', 120);
    await store.records.enqueue(cids.map((c) => item(c)));
    const first = await role();
    for (let i = 0; i < 60; i += 20) await succeed(store, cids.slice(i, i + 20), `msgbatch_${i}`);
    await waitFor(() => accepted(rx.received()).size >= 10, { timeoutMs: 20_000, what: 'some deliveries' });
    const gone = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await gone;
    // Results applied while no webhooks process runs wait in {results} and the outbox.
    for (let i = 60; i < 120; i += 20) await succeed(store, cids.slice(i, i + 20), `msgbatch_${i}`);
    expect(accepted(rx.received()).size).toBeLessThan(cids.length);
    const second = await role();
    await waitFor(() => accepted(rx.received()).size === cids.length, {
      timeoutMs: 40_000,
      what: `every webhook delivered (have ${accepted(rx.received()).size})`,
    });
    await waitFor(async () => Object.keys(await resultJobs(store)).length === 0, {
      timeoutMs: 20_000,
      what: '{results} empty',
    });
    expect(await compacted(store, cids)).toBe(cids.length);
    const got = accepted(rx.received());
    // At least once: only deliveries in progress at the kill (at most the role's concurrency, 8)
    // may reach the receiver again, with the same webhook-id.
    const twice = [...got.values()].filter((l) => l.length > 1);
    expect(twice.length).toBeLessThanOrEqual(8);
    for (const [id, [r]] of got) {
      const body = JSON.parse(r!.body) as WebhookEnvelope<'request.succeeded'>;
      expect(body.data.text, id).toBe(`summary of ${body.data.customId}`);
    }
    second.kill('SIGTERM');
    await rx.kill('SIGTERM');
  }, 90_000);
});
