import { type DeliveryJobData, jobIds } from '@nightshift/shared';
import { rawStore } from '@nightshift/store/testing';
import { queuedItem, useRedis, waitFor } from '@nightshift/testing';
import { Worker } from 'bullmq';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ApiTokens,
  type ApplyItem,
  createRedis,
  type EnqueueItem,
  EventOutbox,
  failedDeliveries,
  openQueue,
  replayDeliveries,
  Store,
  scopeAllows,
  WebhookEndpoints,
} from '../src/index.js';

const fx = useRedis((url) => createRedis({ url: url }));
let store: Store;
let prefix: string;
let n = 0;

beforeEach(() => {
  prefix = `t${++n}`;
  store = new Store(fx.redis, prefix);
});

const item = (cid: string, over: Partial<EnqueueItem> = {}): EnqueueItem => queuedItem(cid, over);
const entry = { attempt: 1, batchId: 'b1', outcome: 'succeeded' as const, at: 1 };
const tokens = { input: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1 };
const success = (cid: string): ApplyItem => ({
  cid,
  action: 'success',
  mode: 'batch',
  tokens,
  costNano: 1,
  listNano: 2,
  entry,
  batchId: 'b1',
  delivery: 'res-b1-x',
});
/** Claims everything queued in g1 into submission s1, as a flush would. */
async function claimIntoS1() {
  await store.submissions.open({
    id: 's1',
    partition: 'default',
    reason: 'manual',
    owner: 'x',
    leaseMs: 1000,
  });
  return store.submissions.claim('g1', 's1', 100, 1e9);
}
/** Claims everything queued in g1 into submission s1 and kills `cid` from it. */
async function dieInBatch(cid: string) {
  await claimIntoS1();
  return store.outcomes.apply([
    { cid, action: 'dead', guardSub: 's1', reason: 'invalid_request_error', error: null, entry },
  ]);
}
const eventsOf = async () => {
  const all = (await fx.redis.xrange(rawStore(store).keys.events, '-', '+')) as [string, string[]][];
  return all.map(([, f]) => Object.fromEntries(f.flatMap((v, i) => (i % 2 ? [] : [[v, f[i + 1]]]))));
};

describe('cancel', () => {
  it('makes a queued request final, out of the pending index and its counters, in one call', async () => {
    await store.records.enqueue([item('a'), item('b')]);
    expect(await store.records.cancel(['a', 'zz'])).toEqual([{ code: 'ok' }, { code: 'unknown' }]);
    const ov = await store.pending.overview();
    expect(ov.total).toBe(1);
    expect(await fx.redis.zrange(rawStore(store).keys.pending('g1'), '0', '-1')).toEqual(['b']);
    expect(await store.records.status('a')).toMatchObject({
      state: 'canceled',
      completedAt: expect.any(Number),
    });
    expect(await fx.redis.zscore(rawStore(store).keys.finals, 'a')).not.toBeNull();
    expect(await store.records.cancel(['a'])).toEqual([{ code: 'canceled' }]);
    expect((await store.stats.all()).canceled).toBe(1);
  });

  it('leaves a claimed request alone', async () => {
    await store.records.enqueue([item('a')]);
    await claimIntoS1();
    expect(await store.records.cancel(['a'])).toEqual([{ code: 'not-queued', state: 'claimed' }]);
    expect((await store.records.get('a'))?.state).toBe('claimed');
  });

  it('answers exists for the same custom_id, and replace re-opens it even with the same params', async () => {
    await store.records.enqueue([item('a')]);
    await store.records.cancel(['a']);
    expect(await store.records.enqueue([item('a')])).toEqual([{ code: 'exists', state: 'canceled' }]);
    expect(await store.records.enqueue([item('a', { phash: 'other' })])).toEqual([
      { code: 'conflict', state: 'canceled' },
    ]);
    expect(await store.records.enqueue([item('a')], { replace: true })).toEqual([{ code: 'replaced' }]);
    expect((await store.records.get('a'))?.state).toBe('queued');
    expect((await store.pending.overview()).total).toBe(1);
    expect(await fx.redis.zscore(rawStore(store).keys.finals, 'a')).toBeNull();
    expect((await store.drains.progress('digest')).open).toBe(1);
  });
});

describe('feature progress and drain marks', () => {
  it('drains a mark once every request enqueued before it is final, whatever came after', async () => {
    await store.records.enqueue([item('a'), item('b'), item('c')]);
    const mark = await store.drains.mark('digest');
    expect(mark).toMatchObject({ markId: 'dm-0-digest', epoch: 0, drained: false });
    await store.records.enqueue([item('late')]); // after the mark: does not hold it back
    expect(await store.drains.progress('digest')).toMatchObject({
      open: 4,
      enqueued: 4,
      pendingMarks: [{ markId: mark.markId, remaining: 3 }],
    });
    expect(await store.outcomes.apply([success('a')])).toEqual([{ code: 'ok' }]);
    expect(await store.records.cancel(['b'])).toEqual([{ code: 'ok' }]);
    expect((await store.drains.progress('digest')).pendingMarks).toEqual([
      expect.objectContaining({ remaining: 1 }),
    ]);
    expect(await dieInBatch('c')).toEqual([{ code: 'ok' }]);
    const p = await store.drains.progress('digest');
    expect(p).toMatchObject({ open: 1, succeeded: 1, dead: 1, canceled: 1, pendingMarks: [] });
    const stored = JSON.parse((await fx.redis.hget(rawStore(store).keys.drainMarks, mark.markId))!);
    expect(stored.drainedAt).toEqual(expect.any(Number));
    // 'late' was claimed by dieInBatch's submission too: it is still open, in epoch 1.
    expect(await fx.redis.hgetall(rawStore(store).keys.featureOpen)).toEqual({ 'digest|1': '1' });
  });

  it('is drained at once when nothing of the feature is open, and a retried dead letter re-opens its epoch', async () => {
    expect((await store.drains.mark('empty')).drained).toBe(true);
    await store.records.enqueue([item('a')]);
    await dieInBatch('a');
    expect((await store.drains.mark('digest')).drained).toBe(true);
    expect(await store.outcomes.retryDead(['a'])).toEqual([{ code: 'ok' }]);
    const again = await store.drains.mark('digest');
    expect(again.drained).toBe(false);
    expect((await store.drains.progress('digest')).open).toBe(1);
  });

  it('counts a replaced request once', async () => {
    await store.records.enqueue([item('a')]);
    await store.records.enqueue([item('a', { phash: 'v2' })], { replace: true });
    expect(await store.drains.progress('digest')).toMatchObject({ open: 1, enqueued: 1 });
  });
});

describe('the event outbox', () => {
  it('writes nothing while no endpoint subscribes', async () => {
    await store.records.enqueue([item('a'), item('b')]);
    await store.outcomes.apply([success('a')]);
    await store.records.cancel(['b']);
    await store.batches.markCollected('b1', { succeeded: 1 });
    expect(await fx.redis.exists(rawStore(store).keys.events)).toBe(0);
  });

  it('writes one event per outcome of a subscribed type, in the outcome’s own script', async () => {
    const endpoints = new WebhookEndpoints(store);
    await endpoints.register({
      name: 'svc',
      url: 'https://example.test/hook',
      events: ['request.succeeded'],
    });
    expect(await fx.redis.hgetall(rawStore(store).keys.webhookSubscriptions)).toEqual({
      'request.succeeded': '1',
    });
    await store.records.enqueue([item('a', { notify: 'svc' }), item('b')]);
    await store.outcomes.apply([success('a')]);
    await store.outcomes.apply([success('a')]); // applied again: dup, no second event
    await store.records.cancel(['b']); // not subscribed
    const events = await eventsOf();
    expect(events).toHaveLength(1);
    const enq = (await store.records.get('a'))!.enqueuedAt;
    expect(events[0]).toMatchObject({
      t: 'request.succeeded',
      id: `ev-${enq}-a-ok`,
      c: 'a',
      f: 'digest',
      p: 'default',
      n: 'svc',
      j: 'res-b1-x',
      b: 'b1',
    });
    await endpoints.setEnabled('svc', false);
    expect(await fx.redis.exists(rawStore(store).keys.webhookSubscriptions)).toBe(0);
  });

  it('writes batch.ended once, request.failed per death, feature.drained per mark', async () => {
    await new WebhookEndpoints(store).register({ name: 'all', url: 'https://example.test/' });
    await store.records.enqueue([item('a')]);
    await store.drains.mark('digest');
    await dieInBatch('a');
    await store.batches.markCollected('b1', { errored: 1 });
    await store.batches.markCollected('b1', { errored: 1 });
    const events = await eventsOf();
    expect(events.map((e) => e.t)).toEqual(['request.failed', 'feature.drained', 'batch.ended']);
    expect(events[0]).toMatchObject({
      r: 'invalid_request_error',
      b: 'b1',
      id: expect.stringMatching(/-a-dead1$/),
    });
    expect(events[1]).toMatchObject({ id: 'ev-drain-dm-0-digest', f: 'digest', m: 'dm-0-digest' });
    expect(events[2]).toMatchObject({ id: 'ev-batch-b1', cnt: '{"errored":1}' });
  });

  it('hands each event to one consumer; an unacknowledged one is claimed by another after its idle time', async () => {
    await new WebhookEndpoints(store).register({ name: 'all', url: 'https://example.test/' });
    const outbox = new EventOutbox(store);
    await outbox.ensureGroup();
    await outbox.ensureGroup(); // idempotent
    await store.records.enqueue([item('a'), item('b')]);
    await store.records.cancel(['a', 'b']);
    const first = await outbox.read('c1', 10, 10);
    expect(first.map((e) => e.fields.c)).toEqual(['a', 'b']);
    expect(await outbox.read('c2', 10, 10)).toEqual([]);
    await outbox.ack([first[0]!.streamId]);
    expect((await outbox.ownPending('c1', 10)).map((e) => e.fields.c)).toEqual(['b']);
    await new Promise((r) => setTimeout(r, 30));
    const taken = await outbox.claimStale('c2', 20, 10);
    expect(taken.map((e) => e.id)).toEqual([first[1]!.id]);
    await outbox.ack(taken.map((e) => e.streamId));
    expect(await outbox.backlog()).toBe(0);
  });
});

describe('API tokens', () => {
  it('stores only the hash, verifies, scopes and revokes', async () => {
    const tokens = new ApiTokens(store);
    const { token, record } = await tokens.create({ name: 'billing', features: ['digest'] });
    expect(token).toMatch(/^nsk_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(await fx.redis.hgetall(rawStore(store).keys.apiTokens))).not.toContain(
      token.slice(4),
    );
    expect(await tokens.verify(token)).toEqual(record);
    expect(await tokens.verify(`${token.slice(0, -1)}x`)).toBeNull();
    expect(await tokens.verify('nope')).toBeNull();
    expect(scopeAllows(record, 'digest', 'any')).toBe(true);
    expect(scopeAllows(record, 'other')).toBe(false);
    expect(await tokens.list()).toEqual([record]);
    expect(await tokens.revoke(record.id)).toBe(1);
    expect(await tokens.verify(token)).toBeNull();
    await expect(tokens.create({ name: 'bad name' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('webhook endpoints', () => {
  it('refuses bad settings by field, keeps names unique, never lists the secret', async () => {
    const endpoints = new WebhookEndpoints(store);
    const err = await endpoints
      .register({ name: 'x y', url: 'ftp://a', events: ['nope'], features: ['a b'], secret: 'whsec_' })
      .catch((e) => e);
    expect(err.issues.map((i: { field: string }) => i.field)).toEqual([
      'name',
      'url',
      'events',
      'features',
      'secret',
    ]);
    expect(
      (await endpoints.register({ name: 'a', url: 'https://u:p@h/' }).catch((e) => e)).issues[0].field,
    ).toBe('url');
    const { secret, endpoint } = await endpoints.register({ name: 'a', url: 'https://h.test/x' });
    expect(secret).toMatch(/^whsec_/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(endpoint).not.toHaveProperty('secret');
    await expect(endpoints.register({ name: 'a', url: 'https://h.test/y' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(JSON.stringify(await endpoints.list())).not.toContain(secret);
    expect((await endpoints.get('a'))?.secret).toBe(secret);
    expect(await endpoints.recordAttempt('a', false, '500', 1000)).toBe(1000);
    expect(await endpoints.recordAttempt('a', false, '503', 2000)).toBe(1000);
    expect((await endpoints.list())[0]?.health).toMatchObject({ failingSince: 1000, lastStatus: '503' });
    expect(await endpoints.recordAttempt('a', true, '200', 3000)).toBeUndefined();
    expect(await endpoints.remove('a')).toBe(true);
    expect(await endpoints.setEnabled('a', true)).toBe(false);
  });
});

describe('failed deliveries', () => {
  it('are listed without reading a large body, and replayed with it', async () => {
    const queue = openQueue<DeliveryJobData>('webhooks', fx.redis, prefix);
    const big = 'x'.repeat(64 * 1024);
    const add = (endpoint: string, eventId: string, body: string) =>
      queue.add(
        'request.succeeded',
        { eventId, endpoint, type: 'request.succeeded', body, at: 1 },
        { jobId: jobIds.webhook(endpoint, eventId), attempts: 1 },
      );
    await add('small', 'ev-1-a-ok', '{}');
    await add('big-ev-name', 'ev-2-b-ok', big);
    const blocking = createRedis({ url: fx.url }, 'worker');
    const worker = new Worker(
      queue.name,
      async () => {
        throw new Error('HTTP 503');
      },
      { connection: blocking, prefix },
    );
    await waitFor(async () => (await queue.getFailedCount()) === 2, { what: 'both deliveries failed' });
    await worker.close();
    await blocking.quit();
    const failed = await failedDeliveries(queue);
    expect(failed.map(({ failedAt: _, ...f }) => f).sort((a, b) => a.jobId.localeCompare(b.jobId))).toEqual([
      {
        jobId: 'whd-big-ev-name-ev-2-b-ok',
        endpoint: 'big-ev-name',
        eventId: 'ev-2-b-ok',
        type: 'request.succeeded',
        attempts: 1,
        reason: 'HTTP 503',
      },
      {
        jobId: 'whd-small-ev-1-a-ok',
        endpoint: 'small',
        eventId: 'ev-1-a-ok',
        type: 'request.succeeded',
        attempts: 1,
        reason: 'HTTP 503',
      },
    ]);
    expect(await failedDeliveries(queue, { endpoint: 'big-ev-name' })).toHaveLength(1);
    expect(await replayDeliveries(queue, { endpoint: 'big-ev-name' })).toBe(1);
    expect((await queue.getJob('whd-big-ev-name-ev-2-b-ok'))?.data.body).toBe(big);
    await queue.obliterate({ force: true });
    await queue.close();
  });
});
