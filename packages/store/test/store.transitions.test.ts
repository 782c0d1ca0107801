import { rawStore } from '@nightshift/store/testing';
import { queuedItem, useRedis } from '@nightshift/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { createRedis, type EnqueueItem, Store } from '../src/index.js';

const fx = useRedis((url) => createRedis({ url: url }));
let store: Store;
let n = 0;

beforeEach(() => {
  store = new Store(fx.redis, `t${++n}`);
});

const item = (cid: string, over: Partial<EnqueueItem> = {}): EnqueueItem =>
  queuedItem(cid, {
    feature: 'classify',
    params: JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: cid }],
    }),
    ...over,
  });

const entry = { attempt: 1, batchId: 'b1', outcome: 'succeeded' as const, at: 1 };

/** Opens a submission as a manual flush would. */
const openSubmission = (id: string) =>
  store.submissions.open({ id, partition: 'default', reason: 'manual', owner: 'x', leaseMs: 1000 });

describe('enqueue', () => {
  it('is idempotent for the same params and refuses changed params', async () => {
    expect(await store.records.enqueue([item('a'), item('b')])).toEqual([{ code: 'new' }, { code: 'new' }]);
    expect(await store.records.enqueue([item('a')])).toEqual([{ code: 'exists', state: 'queued' }]);
    expect(await store.records.enqueue([item('a', { phash: 'other' })])).toEqual([
      { code: 'conflict', state: 'queued' },
    ]);
    const ov = await store.pending.overview();
    expect(ov.total).toBe(2);
  });

  it('replaces a request only while it is queued', async () => {
    await store.records.enqueue([item('a', { group: 'g1' })]);
    expect(await store.records.enqueue([item('a', { phash: 'v2', group: 'g2' })], { replace: true })).toEqual(
      [{ code: 'replaced' }],
    );
    const ov = await store.pending.overview();
    expect(ov.total).toBe(1);
    expect(ov.groups.map((g) => g.group)).toEqual(['g2']);
  });
});

describe('params, apart from the record', () => {
  const entry0 = { attempt: 1, batchId: 'b1', outcome: 'succeeded' as const, at: 1 };
  const tokens0 = { input: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1 };

  it('keeps the record a compact listpack, hands params to every reader, and drops them on success', async () => {
    await store.records.enqueue([item('a'), item('b'), item('c')]);
    expect(await fx.redis.hexists(rawStore(store).keys.record('a'), 'params')).toBe(0);
    expect(await fx.redis.object('ENCODING', rawStore(store).keys.record('a'))).toBe('listpack');
    const params = item('a').params;
    expect((await store.records.get('a'))?.params).toBe(params);
    expect((await store.records.peek(['a', 'zz'], ['params', 'state']))[0]).toEqual({
      params,
      state: 'queued',
    });
    expect(await store.records.peek(['zz'], ['params'])).toEqual([null]);
    expect((await store.records.peekMany(['a'], ['state', 'params']))[0]).toEqual({
      state: 'queued',
      params,
    });

    await openSubmission('s1');
    const claimed = await store.submissions.claim('g1', 's1', 10, 1e9);
    expect(Object.fromEntries(claimed.items)).toEqual({
      a: params,
      b: item('b').params,
      c: item('c').params,
    });

    const success = {
      action: 'success' as const,
      mode: 'batch' as const,
      tokens: tokens0,
      costNano: 1,
      listNano: 2,
    };
    const dead = { action: 'dead' as const, guardSub: 's1', reason: 'x', error: null };
    await store.outcomes.apply([
      { cid: 'a', ...success, entry: entry0, batchId: 'b1', delivery: 'res-b1-x' },
      { cid: 'b', ...dead, entry: { ...entry0, outcome: 'errored' as const } },
    ]);
    // A success is never sent again; a dead request keeps its params for a retry.
    expect(await fx.redis.exists(rawStore(store).keys.params('a'))).toBe(0);
    expect((await store.records.get('b'))?.params).toBe(item('b').params);
    // Retention takes the record and its params together.
    expect(await store.retention.purgeFinal(Date.now() + 1e9)).toEqual({ deleted: 2, more: false });
    expect(await fx.redis.exists(rawStore(store).keys.record('b'), rawStore(store).keys.params('b'))).toBe(0);
    expect(await fx.redis.exists(rawStore(store).keys.params('c'))).toBe(1);
  });

  it('still reads the params of a record written with them inside (before they moved out)', async () => {
    await store.records.enqueue([item('old')]);
    await fx.redis.hset(rawStore(store).keys.record('old'), 'params', '{"legacy":true}');
    await fx.redis.del(rawStore(store).keys.params('old'));
    expect((await store.records.get('old'))?.params).toBe('{"legacy":true}');
    expect((await store.records.peekMany(['old'], ['params']))[0]).toEqual({ params: '{"legacy":true}' });
    await openSubmission('s1');
    expect((await store.submissions.claim('g1', 's1', 10, 1e9)).items).toEqual([['old', '{"legacy":true}']]);
  });
});

describe('claim, commit, release', () => {
  it('claims within count and byte budgets and keeps the index consistent', async () => {
    await store.records.enqueue(['a', 'b', 'c', 'd'].map((c) => item(c)));
    await openSubmission('s1');
    const first = await store.submissions.claim('g1', 's1', 10, 250);
    expect(first.items.map(([c]) => c)).toEqual(['a', 'b']);
    expect(first.bytes).toBe(200);
    expect((await store.pending.overview()).total).toBe(2);
    expect(await store.submissions.members('s1')).toEqual(['a', 'b']);
    expect((await store.records.status('a')).state).toBe('submitting');

    const code = await store.submissions.commit(
      's1',
      {
        id: 'msgbatch_1',
        created_at: new Date().toISOString(),
        expires_at: new Date().toISOString(),
        processing_status: 'in_progress',
      },
      { count: 2, bytes: 200, partition: 'default', reason: 'manual' },
    );
    expect(code).toBe('claiming');
    expect(await store.records.status('a')).toMatchObject({ state: 'in_batch', batchId: 'msgbatch_1' });
    expect(await store.batches.inflightIds()).toEqual(['msgbatch_1']);
  });

  it('release puts claimed requests back with their deadline', async () => {
    await store.records.enqueue([item('a', { deadline: 5000 }), item('b')]);
    await openSubmission('s1');
    await store.submissions.claim('g1', 's1', 10, 10_000);
    expect(await store.pending.deadlinesBefore(10_000)).toEqual([]);
    expect(await store.submissions.release('s1')).toBe(2);
    expect((await store.pending.overview()).total).toBe(2);
    expect(await store.pending.deadlinesBefore(10_000)).toEqual(['a']);
    expect((await store.submissions.get('s1'))?.state).toBe('released');
  });
});

describe('apply', () => {
  async function inBatch(cids: string[]) {
    await store.records.enqueue(cids.map((c) => item(c)));
    await openSubmission('s1');
    await store.submissions.claim('g1', 's1', 100, 1e9);
  }
  const tokens = { input: 10, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 5 };
  /** A batch success of `cid`, delivered by job `delivery`, priced `costNano` (list price twice that). */
  const success = (cid: string, delivery = 'res-b1-x', costNano = 1) => ({
    cid,
    action: 'success' as const,
    mode: 'batch' as const,
    tokens,
    costNano,
    listNano: 2 * costNano,
    entry,
    batchId: 'b1',
    delivery,
  });

  it('counts a success once, however often it is applied', async () => {
    await inBatch(['a']);
    const s = success('a', 'res-b1-x', 7);
    expect(await store.outcomes.apply([s])).toEqual([{ code: 'ok' }]);
    expect(await store.outcomes.apply([s])).toEqual([{ code: 'dup', state: 'succeeded' }]);
    const rows = await store.ledger.rows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      results: 1,
      costNano: 7,
      listNano: 14,
      tokens: { input: 10, output: 5 },
    });
    expect((await store.records.status('a')).state).toBe('succeeded');
  });

  it('requeues with attempt + 1 and backoff, guarded by the submission', async () => {
    await inBatch(['a', 'b']);
    const rq = {
      action: 'requeue' as const,
      guardSub: 's1',
      readyAt: Date.now() + 60_000,
      error: { type: 'api_error', message: 'x' },
      entry,
      countsAttempt: true,
    };
    expect(
      await store.outcomes.apply([
        { cid: 'a', ...rq },
        { cid: 'b', ...rq, guardSub: 'other' },
      ]),
    ).toEqual([{ code: 'ok' }, { code: 'stale', state: 'claimed' }]);
    expect(await store.records.status('a')).toMatchObject({ state: 'retrying', attempt: 2 });
    expect(await store.outcomes.apply([{ cid: 'a', ...rq }])).toEqual([{ code: 'stale', state: 'queued' }]);
    // not ready yet: a claim now takes nothing but b is not pending either
    await openSubmission('s2');
    expect((await store.submissions.claim('g1', 's2', 100, 1e9)).items).toEqual([]);
    expect(
      (await store.submissions.claim('g1', 's2', 100, 1e9, Date.now() + 61_000)).items.map(([c]) => c),
    ).toEqual(['a']);
  });

  it('dead-letters and retries from the dead letter', async () => {
    await inBatch(['a']);
    const dead = {
      cid: 'a',
      action: 'dead' as const,
      guardSub: 's1',
      reason: 'invalid_request_error',
      error: { type: 'invalid_request_error', message: 'bad' },
      entry,
    };
    expect(await store.outcomes.apply([dead])).toEqual([{ code: 'ok' }]);
    expect(await store.records.status('a')).toMatchObject({ state: 'dead', reason: 'invalid_request_error' });
    expect(await store.outcomes.retryDead(['a', 'zz'])).toEqual([{ code: 'ok' }, { code: 'unknown' }]);
    expect(await store.records.status('a')).toMatchObject({ state: 'queued', attempt: 1 });
    expect((await store.stats.all()).dead).toBe(1);
  });

  it('reports unknown custom_ids', async () => {
    const s = success('nope');
    expect(await store.outcomes.apply([s])).toEqual([{ code: 'unknown' }]);
  });

  describe('heldMembers and redeliver', () => {
    it('answers only the members a submission still holds, range by range', async () => {
      const cids = Array.from({ length: 25 }, (_, i) => `m${i}`);
      await inBatch(cids);
      await store.outcomes.apply(cids.filter((_, i) => i % 5 !== 0).map((c) => success(c, 'res-b1-x')));
      const first = await store.submissions.held('s1', 0, 9);
      const rest = await store.submissions.held('s1', 10, 19);
      const last = await store.submissions.held('s1', 20, 29);
      expect([first.read, rest.read, last.read]).toEqual([10, 10, 5]);
      expect([...first.held, ...rest.held, ...last.held].sort()).toEqual(['m0', 'm10', 'm15', 'm20', 'm5']);
    });

    it('moves a delivery only from the job a record still names, and only for successes', async () => {
      await inBatch(['a', 'b', 'c', 'd']);
      await store.outcomes.apply([success('a', 'J1'), success('b', 'J2'), success('c', 'J1')]);
      const moved = await store.outcomes.redeliver('J3', [
        { cid: 'a', from: 'J1' },
        { cid: 'b', from: 'J1' },
        { cid: 'c', from: 'J1' },
        { cid: 'd', from: '' },
        { cid: 'nobody', from: '' },
      ]);
      expect(moved).toEqual([true, false, true, false, false]);
      const recs = await store.records.peekMany(['a', 'b', 'c', 'd'], ['state', 'delivery']);
      expect(recs.map((r) => r?.delivery)).toEqual(['J3', 'J2', 'J3', '']);
      // Done once: a second repair naming the old job moves nothing.
      expect(await store.outcomes.redeliver('J4', [{ cid: 'a', from: 'J1' }])).toEqual([false]);
    });
  });
});
