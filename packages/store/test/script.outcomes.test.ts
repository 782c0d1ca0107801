/**
 * apply.lua, redeliver.lua and retry-dead.lua (store.outcomes): every output code their headers
 * list, per action, and what each leaves in the keys.
 */
import { rawStore } from '@nightshift/store/testing';
import { describe, expect, it } from 'vitest';
import { codeText, utcDay } from '../src/index.js';
import { parseApply } from '../src/replies.js';
import { dead, entry, item, requeue, success, T0, toRealtime, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();
const DAY = utcDay(T0);

describe('apply.lua: success', () => {
  it("'ok' from claimed: succeeded, final, params gone, the ledger and counters summed once", async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    const us = success('b', { usInference: true, usPremiumNano: 100 });
    expect(await s.store.outcomes.apply([success('a'), us], T0 + 10)).toEqual([
      { code: 'ok' },
      { code: 'ok' },
    ]);
    expect(await s.record('a')).toMatchObject({
      state: 'succeeded',
      done: String(T0 + 10),
      batch: 'b1',
      dlv: 'res-b1-x',
      cost: '1000',
      err: '',
      hist: JSON.stringify([entry]),
    });
    expect(await s.redis.exists(s.keys.params('a'))).toBe(0);
    expect(await s.zset(s.keys.finals)).toEqual({ a: T0 + 10, b: T0 + 10 });
    const row = 'b|classify|claude-haiku-4-5|';
    expect(await s.hash(s.keys.ledger(DAY))).toEqual({
      [`${row}n`]: '2',
      [`${row}in`]: '20',
      [`${row}cw5`]: '2',
      [`${row}cw1h`]: '4',
      [`${row}cr`]: '6',
      [`${row}out`]: '8',
      [`${row}cost`]: '2000',
      [`${row}list`]: '4000',
      [`${row}us`]: '1',
      [`${row}usp`]: '100',
    });
    expect(await s.redis.smembers(s.keys.ledgerDays)).toEqual([DAY]);
    expect(await s.redis.hget(s.keys.stats, 'succeeded')).toBe('2');
    expect(await s.redis.hget(s.keys.finalCount, 'succeeded')).toBe('2');
    expect(await s.hash(s.keys.featureOpen)).toEqual({});
    expect(await s.hash(s.keys.featureStats)).toMatchObject({ 'classify|succeeded': '2' });
  });

  it("'ok' from queued (out of the pending index) and from realtime (out of the realtime index)", async () => {
    await s.store.records.enqueue([item('q'), item('r', { state: 'realtime' })], { now: T0 });
    expect(
      await s.store.outcomes.apply(
        [success('q'), success('r', { mode: 'realtime', batchId: null })],
        T0 + 10,
      ),
    ).toEqual([{ code: 'ok' }, { code: 'ok' }]);
    expect(await s.field('q', 'state')).toBe('succeeded');
    expect(await s.field('r', 'state')).toBe('succeeded');
    expect(await s.field('r', 'batch')).toBe('');
    expect(await s.redis.exists(s.keys.pending('g1'))).toBe(0);
    expect(await s.hash(s.keys.partitionCount)).toEqual({ default: '0' });
    expect(await s.zset(s.keys.realtime)).toEqual({});
    expect(await s.redis.hget(s.keys.stats, 'realtime_succeeded')).toBe('1');
    expect(await s.redis.hget(s.keys.ledger(DAY), 'r|classify|claude-haiku-4-5|n')).toBe('1');
  });

  it("'dup:<state>' for a record already final, 'unknown' for no record: nothing else changes", async () => {
    await s.claimed('sub1', [item('a'), item('d')]);
    await s.store.outcomes.apply([success('a'), dead('d', 'sub1')], T0 + 10);
    const before = await s.record('a');
    const ledger = await s.hash(s.keys.ledger(DAY));
    expect(await s.store.outcomes.apply([success('a'), success('d'), success('zz')], T0 + 20)).toEqual([
      { code: 'dup', state: 'succeeded' },
      { code: 'dup', state: 'dead' },
      { code: 'unknown' },
    ]);
    expect(await s.record('a')).toEqual(before);
    expect(await s.field('d', 'state')).toBe('dead');
    expect(await s.record('zz')).toEqual({});
    expect(await s.hash(s.keys.ledger(DAY))).toEqual(ledger);
    expect(await s.redis.hget(s.keys.stats, 'duplicate_results')).toBe('2');
    expect(await s.redis.hget(s.keys.stats, 'succeeded')).toBe('1');
  });
});

describe('apply.lua: requeue, dead, realtime', () => {
  it("requeue 'ok': queued again at its ready time, attempt counted (or not), error and history kept", async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    expect(
      await s.store.outcomes.apply(
        [requeue('a', 'sub1', T0 + 1000), requeue('b', 'sub1', T0 + 5, false)],
        T0 + 10,
      ),
    ).toEqual([{ code: 'ok' }, { code: 'ok' }]);
    expect(await s.record('a')).toMatchObject({
      state: 'queued',
      sub: '',
      attempt: '2',
      ready: String(T0 + 1000),
      err: JSON.stringify({ type: 'api_error', message: 'overloaded' }),
    });
    expect(JSON.parse((await s.field('a', 'hist'))!)).toHaveLength(1);
    expect(await s.field('b', 'attempt')).toBe('1');
    expect(await s.zset(s.keys.pending('g1'))).toEqual({ a: T0 + 1000, b: T0 + 5 });
    // only a ready time ahead of now is delayed
    expect(await s.zset(s.keys.delayed)).toEqual({ a: T0 + 1000 });
    expect(await s.redis.hget(s.keys.stats, 'requeued')).toBe('2');
  });

  it("dead 'ok': final with its reason and a death counted; the params stay for a retry", async () => {
    await s.claimed('sub1', [item('a')]);
    expect(await s.store.outcomes.apply([dead('a', 'sub1', 'expired_twice')], T0 + 10)).toEqual([
      { code: 'ok' },
    ]);
    expect(await s.record('a')).toMatchObject({
      state: 'dead',
      sub: '',
      reason: 'expired_twice',
      deaths: '1',
      done: String(T0 + 10),
    });
    expect(await s.redis.exists(s.keys.params('a'))).toBe(1);
    expect(await s.zset(s.keys.finals)).toEqual({ a: T0 + 10 });
    expect(await s.redis.hget(s.keys.stats, 'dead')).toBe('1');
    expect(await s.hash(s.keys.featureStats)).toMatchObject({ 'classify|dead': '1' });
  });

  it("realtime 'ok': the request leaves the batch path; then only the guard 'realtime' holds it", async () => {
    await s.claimed('sub1', [item('a')]);
    expect(await s.store.outcomes.apply([toRealtime('a', 'sub1')], T0 + 10)).toEqual([{ code: 'ok' }]);
    expect(await s.record('a')).toMatchObject({ state: 'realtime', sub: '' });
    expect(await s.zset(s.keys.realtime)).toEqual({ a: T0 + 10 });
    expect(await s.store.outcomes.apply([dead('a', 'sub1')], T0 + 20)).toEqual([
      { code: 'stale', state: 'realtime' },
    ]);
    expect(await s.store.outcomes.apply([requeue('a', 'realtime', T0 + 30)], T0 + 20)).toEqual([
      { code: 'ok' },
    ]);
    expect(await s.field('a', 'state')).toBe('queued');
    expect(await s.zset(s.keys.realtime)).toEqual({});
  });

  it("'stale:<state>': a guard that no longer holds the record changes nothing", async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    await s.store.records.enqueue([item('q')], { now: T0 });
    const before = await s.record('a');
    expect(
      await s.store.outcomes.apply(
        [requeue('a', 'other', T0 + 5), dead('b', 'realtime'), toRealtime('q', 'sub1'), dead('zz', 'sub1')],
        T0 + 10,
      ),
    ).toEqual([
      { code: 'stale', state: 'claimed' },
      { code: 'stale', state: 'claimed' },
      { code: 'stale', state: 'queued' },
      { code: 'unknown' },
    ]);
    expect(await s.record('a')).toEqual(before);
    expect(await s.field('b', 'state')).toBe('claimed');
    expect(await s.field('q', 'state')).toBe('queued');
    expect(await s.redis.hget(s.keys.stats, 'requeued')).toBeNull();
    expect(await s.redis.hget(s.keys.stats, 'dead')).toBeNull();
  });

  it('an unknown action is an error reply', async () => {
    await s.claimed('sub1', [item('a')]);
    // the client never builds one: sent by hand, with the arguments outcomes.apply sends
    const { redis, keys } = rawStore(s.store);
    const run = (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).nsApply!;
    await expect(
      run.call(redis, keys.stats, keys.base, T0, DAY, 1, 'a', 'explode', 'sub1', '', '', '{}', ''),
    ).rejects.toThrow('apply: unknown action explode');
    expect(await s.field('a', 'state')).toBe('claimed');
  });
});

describe('redeliver.lua', () => {
  it('moves a succeeded record naming the expected job (true), nothing else (false)', async () => {
    await s.claimed('sub1', [item('a'), item('b'), item('c')]);
    await s.store.outcomes.apply(
      [success('a', { delivery: 'J1' }), success('b', { delivery: 'J2' })],
      T0 + 10,
    );
    expect(
      await s.store.outcomes.redeliver('J3', [
        { cid: 'a', from: 'J1' },
        { cid: 'b', from: 'J1' },
        { cid: 'c', from: '' },
        { cid: 'zz', from: '' },
      ]),
    ).toEqual([true, false, false, false]);
    expect(await s.field('a', 'dlv')).toBe('J3');
    expect(await s.field('b', 'dlv')).toBe('J2');
    expect(await s.field('c', 'dlv')).toBeNull();
  });

  it('never moves a compacted record (its result was delivered): false', async () => {
    await s.claimed('sub1', [item('a')]);
    await s.store.outcomes.apply([success('a', { delivery: 'J1' })], T0 + 10);
    await s.store.outcomes.delivered('J1', ['a']);
    // A re-stream names res-<custom_id> for a record that names no job: it must not move.
    expect(await s.store.outcomes.redeliver('J3', [{ cid: 'a', from: '' }])).toEqual([false]);
    expect(await s.field('a', 'dlv')).toBeNull();
  });
});

describe('delivered.lua', () => {
  it("'1': a succeeded record naming the job keeps only state, phash, done, batch and cost", async () => {
    const phash = 'ab'.repeat(32);
    await s.claimed('sub1', [item('a', { phash, meta: '{"doc":1}' })]);
    await s.store.outcomes.apply([success('a', { delivery: 'J1', costNano: 1234 })], T0 + 10);
    expect(await s.store.outcomes.delivered('J1', ['a'])).toEqual([true]);
    // A first attempt is not written; the params hash keeps 24 hex digits (96 bits).
    expect(await s.record('a')).toEqual({
      state: 'succeeded',
      phash: phash.slice(0, 24),
      done: String(T0 + 10),
      batch: 'b1',
      cost: '1234',
    });
    // Still final, still counted: retention and the board see it as before.
    expect(await s.zset(s.keys.finals)).toEqual({ a: T0 + 10 });
    expect(await s.hash(s.keys.finalCount)).toEqual({ succeeded: '1' });
  });

  it("'0': another job named, not succeeded, unknown, or compacted already: nothing changed", async () => {
    await s.claimed('sub1', [item('a'), item('b'), item('r', { state: 'realtime' })]);
    await s.store.outcomes.apply([success('a', { delivery: 'J1', batchId: null, costNano: 0 })], T0 + 10);
    expect(await s.store.outcomes.delivered('J2', ['a', 'b', 'r', 'zz'])).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(await s.field('a', 'dlv')).toBe('J1');
    expect(await s.field('b', 'cid')).toBe('b');
    expect(await s.store.outcomes.delivered('J1', ['a'])).toEqual([true]);
    // A real-time success has no batch and keeps none (nor a cost of 0); a second call is a no-op.
    expect(await s.field('a', 'batch')).toBeNull();
    const compact = await s.record('a');
    expect(compact).toEqual({ state: 'succeeded', phash: 'h-a', done: String(T0 + 10) });
    expect(await s.store.outcomes.delivered('J1', ['a'])).toEqual([false]);
    expect(await s.record('a')).toEqual(compact);
  });

  it("'1' after a retry: a request that took more than one attempt keeps its attempt count", async () => {
    await s.claimed('sub1', [item('a')]);
    await s.store.outcomes.apply([requeue('a', 'sub1', T0)], T0 + 1);
    await s.store.submissions.claim('g1', 'sub1', 10, 1e9, T0 + 2);
    await s.store.outcomes.apply([success('a', { delivery: 'J1' })], T0 + 10);
    expect(await s.store.outcomes.delivered('J1', ['a'])).toEqual([true]);
    expect(await s.field('a', 'attempt')).toBe('2');
  });
});

describe('retry-dead.lua', () => {
  it("'ok': a dead request is queued again with a fresh attempt budget, open again in its epoch", async () => {
    await s.claimed('sub1', [item('a')]);
    await s.store.outcomes.apply([requeue('a', 'sub1', T0)], T0 + 1);
    await s.store.submissions.claim('g1', 'sub1', 10, 1e9, T0 + 2);
    await s.store.outcomes.apply([dead('a', 'sub1')], T0 + 3);
    expect(await s.store.outcomes.retryDead(['a'], T0 + 10)).toEqual([{ code: 'ok' }]);
    expect(await s.record('a')).toMatchObject({
      state: 'queued',
      attempt: '1',
      ready: String(T0 + 10),
      done: '',
      reason: '',
      deaths: '1',
    });
    expect(JSON.parse((await s.field('a', 'hist'))!)).toHaveLength(2);
    expect(await s.zset(s.keys.pending('g1'))).toEqual({ a: T0 + 10 });
    expect(await s.zset(s.keys.finals)).toEqual({});
    expect(await s.redis.hget(s.keys.stats, 'dead_retried')).toBe('1');
    expect(await s.hash(s.keys.featureOpen)).toEqual({ 'classify|0': '1' });
  });

  it("'unknown' and 'not-dead:<state>' change nothing", async () => {
    await s.store.records.enqueue([item('q')], { now: T0 });
    expect(await s.store.outcomes.retryDead(['zz', 'q'], T0 + 10)).toEqual([
      { code: 'unknown' },
      { code: 'not-dead', state: 'queued' },
    ]);
    expect(await s.record('q')).toMatchObject({ state: 'queued', ready: String(T0) });
    expect(await s.redis.hget(s.keys.stats, 'dead_retried')).toBeNull();
  });
});

describe('the typed codes', () => {
  it('parse each code once, throw on one the script does not answer, and print back in its words', () => {
    expect(parseApply('dup:succeeded')).toEqual({ code: 'dup', state: 'succeeded' });
    expect(codeText(parseApply('stale:claimed'))).toBe('stale:claimed');
    expect(codeText(parseApply('ok'))).toBe('ok');
    expect(() => parseApply('dup:sideways')).toThrow('apply.lua: unexpected reply code "dup:sideways"');
    expect(() => parseApply('exists:queued')).toThrow('apply.lua: unexpected reply code');
    expect(() => parseApply('ok:queued')).toThrow('apply.lua: unexpected reply code');
  });
});
