/**
 * The store's other scripts: collected.lua (store.batches), drain-mark.lua (store.drains),
 * purge.lua (store.retention), open-circuit.lua (store.circuit), webhook-endpoint.lua
 * (WebhookEndpoints), board-counts.lua, board-page.lua and promote.lua (Bull Board's view) and
 * jobs-within.lua: every output their headers list, and what each leaves in the keys.
 */
import { rawStore } from '@nightshift/store/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  boardCounts,
  boardPage,
  openQueue,
  promoteRequests,
  readJobsWithin,
  WebhookEndpoints,
} from '../src/index.js';
import { batch, commitMeta, dead, item, requeue, success, T0, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();
const MIN = 60_000;

const meta = commitMeta(1);

/** Subscribes an endpoint to every event, so the scripts write them to the outbox. */
const subscribeAll = () =>
  new WebhookEndpoints(s.store).register({ name: 'svc', url: 'https://example.com/hook' }, T0);
const events = async () =>
  ((await s.redis.xrange(s.keys.events, '-', '+')) as [string, string[]][]).map(([, f]) => f);

describe('collected.lua', () => {
  it('1 the first time (out of flight, batch.ended written), 0 after (no second event)', async () => {
    await subscribeAll();
    await s.claimed('sub1', [item('a')]);
    await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta, T0 + 1);
    expect(await s.store.batches.markCollected('msgbatch_1', { succeeded: 1 }, T0 + 10)).toBe(true);
    expect(await s.hash(s.keys.batch('msgbatch_1'))).toMatchObject({
      state: 'collected',
      applied: String(T0 + 10),
      counts: '{"succeeded":1}',
    });
    expect(await s.redis.smembers(s.keys.inflight)).toEqual([]);
    expect(await s.store.batches.markCollected('msgbatch_1', { succeeded: 1 }, T0 + 20)).toBe(false);
    expect(await s.redis.hget(s.keys.batch('msgbatch_1'), 'applied')).toBe(String(T0 + 20));
    const ended = (await events()).filter((f) => f[1] === 'batch.ended');
    expect(ended).toEqual([
      [
        't',
        'batch.ended',
        'id',
        'ev-batch-msgbatch_1',
        'b',
        'msgbatch_1',
        'p',
        'default',
        'k',
        '1',
        'cnt',
        '{"succeeded":1}',
        'at',
        String(T0 + 10),
      ],
    ]);
  });
});

describe('drain-mark.lua', () => {
  it('answers the mark, the epoch it closes and drained false while a request of it is open', async () => {
    await s.store.records.enqueue([item('a')], { now: T0 });
    const mark = await s.store.drains.mark('classify', T0 + 1);
    expect(mark).toEqual({
      markId: 'dm-0-classify',
      feature: 'classify',
      epoch: 0,
      markedAt: T0 + 1,
      drained: false,
    });
    expect(await s.hash(s.keys.featureEpoch)).toEqual({ classify: '1' });
    expect(await s.zset(s.keys.drainPending('classify'))).toEqual({ 'dm-0-classify': 0 });
    // the one open request becomes final: the mark drains
    await s.store.records.cancel(['a'], T0 + 2);
    expect(await s.zset(s.keys.drainPending('classify'))).toEqual({});
    expect(JSON.parse((await s.redis.hget(s.keys.drainMarks, 'dm-0-classify'))!)).toMatchObject({
      drainedAt: T0 + 2,
    });
  });

  it('answers drained true at once when nothing of the feature is open', async () => {
    expect(await s.store.drains.mark('idle', T0)).toMatchObject({
      markId: 'dm-0-idle',
      epoch: 0,
      drained: true,
    });
    expect(await s.store.drains.mark('idle', T0 + 1)).toMatchObject({
      markId: 'dm-1-idle',
      epoch: 1,
      drained: true,
    });
    expect(await s.zset(s.keys.drainPending('idle'))).toEqual({});
  });
});

describe('purge.lua', () => {
  it('answers { deleted, looked at }: deletes records final before the cutoff, fixes the index', async () => {
    await s.claimed('sub1', [item('a'), item('b'), item('c'), item('d')]);
    await s.store.outcomes.apply([success('a'), dead('b', 'sub1')], T0 + 10);
    await s.store.outcomes.apply([success('c')], T0 + 500);
    // d is in the index but not final (a stale entry): dropped
    await s.redis.zadd(s.keys.finals, T0 + 5, 'd');
    expect(await s.store.retention.purgeFinal(T0 + 100, 10)).toEqual({ deleted: 2, more: false });
    expect(await s.record('a')).toEqual({});
    expect(await s.record('b')).toEqual({});
    expect(await s.redis.exists(s.keys.params('b'))).toBe(0);
    expect(await s.field('c', 'state')).toBe('succeeded');
    expect(await s.field('d', 'state')).toBe('claimed');
    expect(await s.zset(s.keys.finals)).toEqual({ c: T0 + 500 });
    expect(await s.redis.hget(s.keys.finalCount, 'succeeded')).toBe('1');
  });

  it('moves an entry whose record became final later to that time; more while the limit is met', async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    await s.store.outcomes.apply([success('a'), success('b')], T0 + 500);
    await s.redis.zadd(s.keys.finals, T0 + 1, 'a');
    // a's final time is the cutoff itself: not before it, so kept
    expect(await s.store.retention.purgeFinal(T0 + 500, 1)).toEqual({ deleted: 0, more: true });
    expect(await s.zset(s.keys.finals)).toEqual({ a: T0 + 500, b: T0 + 500 });
    expect(await s.field('a', 'state')).toBe('succeeded');
  });
});

describe('open-circuit.lua', () => {
  const refusal = (kind: 'billing' | 'account') => ({
    kind,
    code: kind === 'billing' ? 'billing_error' : 'organization_on_hold',
    reason: 'refused.',
    fix: 'pay.',
    cooldownMs: 1000,
    maxCooldownMs: 5000,
  });
  /** The answer to a refusal while the circuit is open: no new opening, the probe count and the wait. */
  const stillOpen = (opens: number, until: number) => ({ opens, until, opened: false });

  it('opens a closed circuit (opened), keeps it while cooling, doubles a billing wait per refused probe', async () => {
    const c = s.store.circuit;
    expect(await c.open(refusal('billing'), T0)).toEqual({ opens: 1, until: T0 + 1000, opened: true });
    expect(await s.hash(s.keys.circuit)).toMatchObject({ state: 'open', kind: 'billing', since: String(T0) });
    expect(await c.open(refusal('billing'), T0 + 500)).toEqual(stillOpen(1, T0 + 1000));
    expect(await c.open(refusal('billing'), T0 + 1000)).toEqual(stillOpen(2, T0 + 3000));
    expect(await c.open(refusal('billing'), T0 + 3000)).toEqual(stillOpen(3, T0 + 7000));
    expect(await c.open(refusal('billing'), T0 + 7000)).toEqual(stillOpen(4, T0 + 12_000));
    expect(await s.hash(s.keys.circuit)).toMatchObject({ opens: '4', since: String(T0) });
    const alert = JSON.parse((await s.redis.hget(s.keys.alerts, 'circuit-open'))!);
    expect(alert).toMatchObject({ code: 'circuit-open', since: T0, at: T0 + 7000 });
  });

  it('an account circuit waits the cooldown; another kind starts over at opens 1', async () => {
    const c = s.store.circuit;
    await c.open(refusal('account'), T0);
    expect(await c.open(refusal('account'), T0 + 1000)).toEqual(stillOpen(2, T0 + 2000));
    expect(await c.open(refusal('billing'), T0 + 1500)).toEqual(stillOpen(1, T0 + 2500));
    expect(await s.hash(s.keys.circuit)).toMatchObject({
      kind: 'billing',
      code: 'billing_error',
      since: String(T0),
    });
  });
});

describe('webhook-endpoint.lua', () => {
  it("1 / 0 per mode ('new', 'exists', delete), webhook-subs recomputed each time", async () => {
    const endpoints = new WebhookEndpoints(s.store);
    const ep = { name: 'svc', url: 'https://example.com/hook', events: ['request.failed' as const] };
    await endpoints.register(ep, T0);
    expect(await s.hash(s.keys.webhookSubscriptions)).toEqual({ 'request.failed': '1' });
    // 'new' on a taken name: 0, refused
    await expect(endpoints.register(ep, T0)).rejects.toThrow('exists already');
    await endpoints.register({ ...ep, name: 'other' }, T0);
    expect(await s.hash(s.keys.webhookSubscriptions)).toEqual({ 'request.failed': '2' });
    // 'exists': 1 for a known name, 0 for an unknown one (nothing written)
    expect(await endpoints.setEnabled('svc', false)).toBe(true);
    expect(await s.hash(s.keys.webhookSubscriptions)).toEqual({ 'request.failed': '1' });
    const { redis, keys } = rawStore(s.store);
    const run = (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)
      .nsWebhookEndpoint!;
    expect(
      await run.call(redis, keys.stats, keys.base, 'ghost', '{"enabled":true,"events":[]}', 'exists'),
    ).toBe(0);
    expect(await redis.hexists(keys.webhookEndpoints, 'ghost')).toBe(0);
    // delete: 1, then 0 (nothing to delete)
    await redis.hset(keys.webhookHealth('other'), 'lastStatus', '200');
    expect(await endpoints.remove('other')).toBe(true);
    expect(await redis.exists(keys.webhookHealth('other'))).toBe(0);
    expect(await endpoints.remove('other')).toBe(false);
    expect(await s.hash(s.keys.webhookSubscriptions)).toEqual({});
  });
});

describe("Bull Board's view", () => {
  let deadLetters: Queue;
  beforeEach(() => {
    deadLetters = openQueue('deadLetters', s.redis, s.store.prefix);
  });
  afterEach(() => deadLetters.close());

  /** q1 waiting, q2 delayed (in backoff), a and b in a batch in flight, c in an open submission, r real-time, done succeeded. */
  async function seed() {
    await s.claimed('sub1', [item('a'), item('b'), item('done'), item('q2')]);
    await s.store.outcomes.apply([success('done'), requeue('q2', 'sub1', T0 + 10 * MIN)], T0 + 1);
    await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta, T0 + 2);
    await s.claimed('sub2', [item('c')], T0 + 3);
    await s.store.records.enqueue([item('q1'), item('r', { state: 'realtime' })], { now: T0 + 4 });
  }

  it('board-counts.lua answers { queued, delayed, active, succeeded }', async () => {
    await seed();
    expect(await boardCounts(s.store, deadLetters, T0 + 5)).toEqual({
      waiting: 1,
      delayed: 1,
      active: 6,
      completed: 1,
      failed: 0,
    });
    // once its ready time passed, a request in backoff counts as waiting
    expect(await boardCounts(s.store, deadLetters, T0 + 10 * MIN)).toMatchObject({ waiting: 2, delayed: 0 });
  });

  it('board-page.lua answers the custom_ids of one page of each state, an unknown state an error', async () => {
    await seed();
    const page = (state: 'waiting' | 'delayed' | 'active' | 'completed', start: number, end: number) =>
      boardPage(s.store, deadLetters, state, start, end, T0 + 5);
    expect(await page('waiting', 0, 9)).toEqual(['q1']);
    expect(await page('delayed', 0, 9)).toEqual(['q2']);
    // batches in flight first (their member lists; done and q2 left sub1's holding but not its list)
    expect(await page('active', 0, 9)).toEqual(['a', 'b', 'done', 'q2', 'c', 'r']);
    expect(await page('active', 4, 5)).toEqual(['c', 'r']);
    expect(await page('completed', 0, 9)).toEqual(['done']);
    expect(await page('completed', 1, 9)).toEqual([]);
    const { redis, keys } = rawStore(s.store);
    const run = (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).nsBoardPage!;
    await expect(run.call(redis, keys.stats, keys.base, T0, 'paused', 0, 10, 100)).rejects.toThrow(
      'board-page: unknown state paused',
    );
  });

  it("promote.lua: 'ok' (ready now), 'ready', 'not-queued:<state>', 'unknown'; each leaves the delayed index", async () => {
    await seed();
    await s.redis.zadd(s.keys.delayed, T0 + MIN, 'zz', T0 + MIN, 'a');
    expect(await promoteRequests(s.store, ['q2', 'q1', 'a', 'zz'], T0 + 5)).toEqual([
      { code: 'ok' },
      { code: 'ready' },
      { code: 'not-queued', state: 'claimed' },
      { code: 'unknown' },
    ]);
    expect(await s.record('q2')).toMatchObject({ state: 'queued', ready: String(T0 + 5), attempt: '2' });
    expect(await s.redis.zscore(s.keys.pending('g1'), 'q2')).toBe(String(T0 + 5));
    expect(await s.redis.zscore(s.keys.groups, 'g1')).toBe(String(T0 + 4));
    expect(await s.zset(s.keys.delayed)).toEqual({});
    expect(await s.field('a', 'state')).toBe('claimed');
  });

  it('jobs-within.lua answers each job in full, a large data left out with its size, nothing for a gone job', async () => {
    const big = 'x'.repeat(5000);
    await deadLetters.add('dead', { customId: 'small' }, { jobId: 'dead-small-1' });
    await deadLetters.add('dead', { customId: 'big', params: big }, { jobId: 'dead-big-1' });
    const got = await readJobsWithin(deadLetters, ['dead-small-1', 'gone', 'dead-big-1'], 1000);
    expect(got.map((j) => [j.job.id, j.job.name, j.job.data, j.omittedDataBytes])).toEqual([
      ['dead-small-1', 'dead', { customId: 'small' }, 0],
      ['dead-big-1', 'dead', {}, JSON.stringify({ customId: 'big', params: big }).length],
    ]);
  });
});
