import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobIds, type WebhookEnvelope } from '@nightshift/shared';
import {
  createRedis,
  EventOutbox,
  failedDeliveries,
  openQueue,
  type RedisClient,
  replayDeliveries,
  Store,
  WebhookEndpoints,
} from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { Registry } from '@nightshift/telemetry';
import { freePort, silentLogger, useRedis, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWebhooks, type Webhooks, type WebhooksOptions } from '../src/index.js';
import { item, type Received, receiver, succeed } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let worker: RedisClient;
let dir: string;
let prefix: string;
let store: Store;
let n = 0;
const running: Webhooks[] = [];

beforeAll(async () => {
  worker = createRedis({ url: fx.url }, 'worker');
  dir = mkdtempSync(join(tmpdir(), 'nightshift-webhooks-'));
});
afterAll(async () => {
  await Promise.all(running.map((w) => w.close()));
  await worker.quit();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  prefix = `w${++n}`;
  store = new Store(fx.redis, prefix);
});

const start = async (over: Partial<WebhooksOptions> = {}) => {
  const w = await startWebhooks({
    connection: worker,
    prefix,
    attempts: 8,
    backoffMs: 40,
    timeoutMs: 400,
    allowPrivate: true,
    claimIdleMs: 600,
    logger: silentLogger,
    ...over,
  });
  running.push(w);
  return w;
};

/** Deliveries the receiver accepted (verified signature), deduped by path and webhook-id. */
const accepted = (log: Received[]) => {
  const byKey = new Map<string, Received[]>();
  for (const r of log.filter((x) => x.status === 204)) {
    const k = `${r.path} ${r.id}`;
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  return byKey;
};

async function register(name: string, port: number, over: Record<string, unknown> = {}) {
  const { secret } = await new WebhookEndpoints(store).register({
    name,
    url: `http://127.0.0.1:${port}/${name}`,
    ...over,
  });
  return secret;
}

describe('delivery to a real receiver in its own process', () => {
  it('delivers every event once after dedupe, signed, through failures, timeouts and a restart', async () => {
    const port = await freePort();
    const secrets = {
      '/all': await register('all', port),
      '/results': await register('results', port, { events: ['request.succeeded'], features: ['digest'] }),
      '/named': await register('named', port, {
        events: ['request.succeeded', 'request.canceled'],
        requestOnly: true,
      }),
    };
    const rx = receiver({
      port,
      log: join(dir, 'rx1.jsonl'),
      secrets,
      failFirst: 1,
      slowEvery: 5,
      slowMs: 1_000,
    });
    await rx.start();
    const cids = Array.from({ length: 24 }, (_, i) => `r${i}`);
    await store.records.enqueue(cids.map((c, i) => item(c, i % 4 === 0 ? { notify: 'named' } : {})));
    await store.drains.mark('digest');
    // Enough attempts to outlast the receiver's restart (a tsx start-up) with this short backoff.
    const webhooks = await start({ attempts: 30 });
    await succeed(store, cids.slice(0, 12));
    await store.records.cancel(cids.slice(12, 18));
    await store.submissions.open({
      id: 's1',
      partition: 'default',
      reason: 'manual',
      owner: 'x',
      leaseMs: 1e4,
    });
    await store.submissions.claim('g1', 's1', 100, 1e9);
    const entry = { attempt: 1, batchId: 'msgbatch_1', outcome: 'errored' as const, at: 1 };
    await store.outcomes.apply(
      cids.slice(18).map((cid) => ({
        cid,
        action: 'dead' as const,
        guardSub: 's1',
        reason: 'invalid_request_error',
        error: { type: 'invalid_request_error', message: 'bad' },
        entry,
      })),
    );
    await store.batches.markCollected('msgbatch_1', { succeeded: 12, errored: 6 });
    // all: 12 succeeded + 6 canceled + 6 failed + drained + batch; results: 12; named: r0, r4, r8 (ok) + r12, r16 (canceled).
    const expected = { '/all': 26, '/results': 12, '/named': 5 };
    await waitFor(() => rx.received().filter((r) => r.status === 204).length >= 10, {
      timeoutMs: 20_000,
      what: 'first deliveries',
    });
    await rx.kill();
    await new Promise((r) => setTimeout(r, 300));
    await rx.start();
    const count = (path: string) =>
      [...accepted(rx.received()).keys()].filter((k) => k.startsWith(`${path} `)).length;
    await waitFor(() => Object.entries(expected).every(([p, n]) => count(p) === n), {
      timeoutMs: 30_000,
      what: `every event delivered (${Object.keys(expected)
        .map((p) => `${p}: ${count(p)}`)
        .join(', ')})`,
    });
    // The sender saw every delivery succeed: none failed, one completed job per (event, endpoint).
    await waitFor(async () => (await webhooks.queue.getCompletedCount()) === 43, {
      timeoutMs: 10_000,
      what: '43 completed deliveries',
    });
    expect(await failedDeliveries(webhooks.queue), 'no delivery failed').toEqual([]);
    const log = rx.received();
    const byKey = accepted(log);
    // Every delivery of an id carries the same body; every accepted one was verified.
    for (const list of byKey.values())
      expect(new Set(list.map((r) => r.body)).size, 'one body per id').toBe(1);
    expect(
      log.filter((r) => r.status === 204).every((r) => r.verified),
      'every 204 verified',
    ).toBe(true);
    // The failures happened: first attempts refused, some timed out.
    expect(
      log.some((r) => r.status === 500),
      'first attempts refused',
    ).toBe(true);
    const slow = log.filter((r) => r.slow);
    expect(slow.length, 'some answers were slow').toBeGreaterThan(0);
    // A slow answer timed out at the sender, which sent it again: the receiver saw it twice.
    expect(
      slow.some((r) => (byKey.get(`${r.path} ${r.id}`)?.length ?? 0) > 1),
      JSON.stringify(
        log
          .filter((r) => slow.some((x) => x.id === r.id && x.path === r.path))
          .map(({ body: _b, ...r }) => r),
      ),
    ).toBe(true);
    const types = (path: string) =>
      [...byKey.entries()].filter(([k]) => k.startsWith(`${path} `)).map(([, [r]]) => r!.type);
    expect(new Set(types('/all'))).toEqual(
      new Set(['request.succeeded', 'request.canceled', 'request.failed', 'feature.drained', 'batch.ended']),
    );
    const succeeded = [...byKey.entries()]
      .filter(([k]) => k.startsWith('/results '))
      .map(([, [r]]) => JSON.parse(r!.body) as WebhookEnvelope<'request.succeeded'>);
    for (const e of succeeded) {
      expect(e.data.text).toBe(`summary of ${e.data.customId}`);
      expect(e.data.metadata).toEqual({ doc: e.data.customId });
      expect(e.data).toMatchObject({ batchId: 'msgbatch_1', textTruncated: false, usage: { output: 10 } });
    }
    const named = [...byKey.keys()].filter((k) => k.startsWith('/named ')).map((k) => k.split(' ')[1]);
    expect(named.map((id) => /-(r\d+)-/.exec(id!)?.[1]).sort()).toEqual(['r0', 'r12', 'r16', 'r4', 'r8']);
    await rx.kill('SIGTERM');
  }, 60_000);

  it('a dispatcher that died after adding jobs and before acknowledging loses nothing and duplicates nothing', async () => {
    const port = await freePort();
    const secret = await register('svc', port);
    const rx = receiver({ port, log: join(dir, 'rx2.jsonl'), secrets: { '/svc': secret } });
    await rx.start();
    await store.records.enqueue([item('a'), item('b')]);
    await store.records.cancel(['a', 'b']);
    // The dead dispatcher: it read both events, fanned the first one out, and never acknowledged.
    const outbox = new EventOutbox(store);
    await outbox.ensureGroup();
    const [first] = await outbox.read('dead-dispatcher', 10, 10);
    const q = openQueue('webhooks', fx.redis, prefix);
    await q.add(
      'request.canceled',
      {
        eventId: first!.id,
        endpoint: 'svc',
        type: 'request.canceled',
        body: '{"type":"request.canceled","timestamp":"x","data":{}}',
        at: 1,
      },
      { jobId: jobIds.webhook('svc', first!.id), attempts: 3 },
    );
    await q.close();
    await start();
    await waitFor(() => accepted(rx.received()).size === 2, {
      timeoutMs: 15_000,
      what: 'both events delivered',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.received().filter((r) => r.status === 204)).toHaveLength(2);
    expect(await outbox.backlog()).toBe(0);
    await rx.kill('SIGTERM');
  });
});

describe('disabled endpoints and replay', () => {
  it('disables an endpoint on 410 at once and one that fails for the whole window; neither receives more', async () => {
    const port = await freePort();
    const secrets = { '/gone': await register('gone', port), '/down': await register('down', port) };
    const rx = receiver({ port, log: join(dir, 'rx3.jsonl'), secrets, gone: ['/gone'], down: ['/down'] });
    await rx.start();
    await store.records.enqueue([item('a'), item('b'), item('c')]);
    const metrics = new Registry();
    await start({ failureWindowMs: 300, backoffMs: 100, metrics });
    await store.records.cancel(['a']);
    const endpoints = new WebhookEndpoints(store);
    await waitFor(async () => (await endpoints.list()).every((e) => !e.enabled), {
      timeoutMs: 15_000,
      what: 'both endpoints disabled',
    });
    expect((await endpoints.list()).map((e) => [e.name, e.disabledReason])).toEqual([
      ['down', 'failing'],
      ['gone', 'gone'],
    ]);
    const requests = rx.received().length;
    expect(rx.received().filter((r) => r.path === '/gone')).toHaveLength(1);
    // Each attempt is counted by outcome; both deliveries were given up on (replayable).
    const sum = async (name: string, labels: Record<string, string>) =>
      (await metrics.getSingleMetric(name)!.get()).values
        .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
        .reduce((total, v) => total + v.value, 0);
    const attempts = 'nightshift_webhook_attempts_total';
    expect(await sum(attempts, { endpoint: 'gone', outcome: 'gone', event: 'request.canceled' })).toBe(1);
    expect(await sum(attempts, { endpoint: 'down', outcome: 'rejected' })).toBeGreaterThan(0);
    expect(await sum(attempts, { outcome: 'delivered' })).toBe(0);
    expect(await sum('nightshift_webhook_deliveries_failed_total', { endpoint: 'gone' })).toBe(1);
    expect(await sum('nightshift_webhook_deliveries_failed_total', { endpoint: 'down' })).toBe(1);
    expect(await sum('nightshift_webhook_events_dispatched_total', {})).toBe(1);
    await store.records.cancel(['b', 'c']);
    await new Promise((r) => setTimeout(r, 800));
    expect(rx.received()).toHaveLength(requests);
    // No event is written for types nobody enabled subscribes to.
    expect(await fx.redis.hgetall(rawStore(store).keys.webhookSubscriptions)).toEqual({});
    await rx.kill('SIGTERM');
  });

  it('replays exactly the deliveries that failed, with the bodies they failed with', async () => {
    const port = await freePort();
    const secrets = { '/flaky': await register('flaky', port), '/fine': await register('fine', port) };
    const log = join(dir, 'rx4.jsonl');
    const rx = receiver({ port, log, secrets, down: ['/flaky'] });
    await rx.start();
    const webhooks = await start({ attempts: 2, backoffMs: 20 });
    await store.records.enqueue(['a', 'b', 'c', 'd'].map((c) => item(c)));
    await store.records.cancel(['a', 'b', 'c']);
    const queue = webhooks.queue;
    await waitFor(async () => (await failedDeliveries(queue, { endpoint: 'flaky' })).length === 3, {
      timeoutMs: 15_000,
      what: '3 failed deliveries to flaky',
    });
    const failed = await failedDeliveries(queue);
    expect(failed.map((f) => f.endpoint)).toEqual(['flaky', 'flaky', 'flaky']);
    expect(failed[0]).toMatchObject({ attempts: 2, reason: expect.stringContaining('HTTP 503') });
    const bodies = new Map<string, string>();
    for (const f of failed) bodies.set(f.eventId, (await queue.getJob(f.jobId))!.data.body);
    await store.records.cancel(['d']); // one more event, delivered to fine only, after this
    writeFileSync(`${log}.up_flaky`, '');
    expect(await replayDeliveries(queue, { endpoint: 'flaky' })).toBe(3);
    await waitFor(
      () => [...accepted(rx.received()).keys()].filter((k) => k.startsWith('/flaky ')).length === 4,
      {
        timeoutMs: 15_000,
        what: 'flaky to get the replayed deliveries and the new event',
      },
    );
    const flaky = rx.received().filter((r) => r.path === '/flaky' && r.status === 204);
    const replayed = flaky.filter((r) => bodies.has(r.id));
    expect(replayed).toHaveLength(3);
    for (const r of replayed) expect(r.body).toBe(bodies.get(r.id));
    expect(await failedDeliveries(queue)).toEqual([]);
    expect(accepted(rx.received()).size).toBe(8); // 4 events × 2 endpoints
    await rx.kill('SIGTERM');
  });
});
