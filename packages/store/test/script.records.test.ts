/**
 * enqueue.lua, peek.lua and cancel.lua (store.records): every output code their headers list, and
 * what each leaves in the keys.
 */
import { describe, expect, it } from 'vitest';
import { item, T0, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();

/** The pending index of one request: its score in its group, and the group's counters. */
async function pendingOf(cid: string, group = 'g1') {
  return {
    score: await s.redis.zscore(s.keys.pending(group), cid),
    groups: await s.zset(s.keys.groups),
    count: await s.hash(s.keys.partitionCount),
    bytes: await s.hash(s.keys.partitionBytes),
  };
}

describe('enqueue.lua', () => {
  it("'new': writes the record, its params apart, the pending index and the feature's counts", async () => {
    const a = item('a', { deadline: T0 + 60_000, notify: 'svc', realtimeAllowed: true });
    expect(await s.store.records.enqueue([a], { now: T0 })).toEqual([{ code: 'new' }]);
    expect(await s.record('a')).toMatchObject({
      cid: 'a',
      state: 'queued',
      feature: 'classify',
      phash: 'h-a',
      attempt: '1',
      enq: String(T0),
      ready: String(T0),
      deadline: String(T0 + 60_000),
      rt: '1',
      ntf: 'svc',
      ep: '0',
      sub: '',
    });
    expect(await s.field('a', 'params')).toBeNull();
    expect(await s.redis.get(s.keys.params('a'))).toBe(a.params);
    expect(await pendingOf('a')).toEqual({
      score: String(T0),
      groups: { g1: T0 },
      count: { default: '1' },
      bytes: { default: '100' },
    });
    expect(await s.zset(s.keys.deadlines)).toEqual({ a: T0 + 60_000 });
    expect(await s.hash(s.keys.featureOpen)).toEqual({ 'classify|0': '1' });
    expect(await s.hash(s.keys.featureStats)).toEqual({ 'classify|enqueued': '1' });
  });

  it("'new' on the real-time path: the record is realtime, in the realtime index, not pending", async () => {
    expect(await s.store.records.enqueue([item('r', { state: 'realtime' })], { now: T0 })).toEqual([
      { code: 'new' },
    ]);
    expect(await s.field('r', 'state')).toBe('realtime');
    expect(await s.zset(s.keys.realtime)).toEqual({ r: T0 });
    expect(await s.redis.exists(s.keys.pending('g1'))).toBe(0);
    expect(await s.hash(s.keys.partitionCount)).toEqual({});
  });

  it("'exists:<state>': the same params again change nothing", async () => {
    await s.store.records.enqueue([item('a')], { now: T0 });
    const before = await s.record('a');
    expect(await s.store.records.enqueue([item('a')], { now: T0 + 5 })).toEqual([
      { code: 'exists', state: 'queued' },
    ]);
    // replace with the same params is still the same request
    expect(await s.store.records.enqueue([item('a')], { now: T0 + 6, replace: true })).toEqual([
      { code: 'exists', state: 'queued' },
    ]);
    expect(await s.record('a')).toEqual(before);
    expect((await pendingOf('a')).count).toEqual({ default: '1' });
    expect(await s.hash(s.keys.featureStats)).toEqual({ 'classify|enqueued': '1' });
  });

  it("'conflict:<state>': other params without replace, or replace of a request no longer queued, change nothing", async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    await s.store.records.enqueue([item('c')], { now: T0 });
    expect(
      await s.store.records.enqueue([item('c', { phash: 'other' }), item('a', { phash: 'other' })], {
        now: T0 + 5,
        replace: false,
      }),
    ).toEqual([
      { code: 'conflict', state: 'queued' },
      { code: 'conflict', state: 'claimed' },
    ]);
    expect(
      await s.store.records.enqueue([item('b', { phash: 'other' })], { now: T0 + 6, replace: true }),
    ).toEqual([{ code: 'conflict', state: 'claimed' }]);
    expect(await s.field('c', 'phash')).toBe('h-c');
    expect(await s.field('b', 'phash')).toBe('h-b');
    expect(await s.field('b', 'state')).toBe('claimed');
  });

  it("'replaced' (queued, other params): the request moves to its new group; it still counts once", async () => {
    await s.store.records.enqueue([item('a', { group: 'g1', bytes: 100 })], { now: T0 });
    expect(
      await s.store.records.enqueue([item('a', { phash: 'v2', group: 'g2', bytes: 300 })], {
        now: T0 + 5,
        replace: true,
      }),
    ).toEqual([{ code: 'replaced' }]);
    expect(await s.record('a')).toMatchObject({
      phash: 'v2',
      group: 'g2',
      bytes: '300',
      enq: String(T0 + 5),
    });
    expect(await s.redis.exists(s.keys.pending('g1'))).toBe(0);
    expect(await pendingOf('a', 'g2')).toEqual({
      score: String(T0 + 5),
      groups: { g2: T0 + 5 },
      count: { default: '1' },
      bytes: { default: '300' },
    });
    expect(await s.hash(s.keys.featureOpen)).toEqual({ 'classify|0': '1' });
    expect(await s.hash(s.keys.featureStats)).toEqual({ 'classify|enqueued': '1' });
  });

  it("'replaced' (canceled, same params): replace re-opens a canceled request", async () => {
    await s.store.records.enqueue([item('a')], { now: T0 });
    await s.store.records.cancel(['a'], T0 + 1);
    expect(await s.store.records.enqueue([item('a')], { now: T0 + 5 })).toEqual([
      { code: 'exists', state: 'canceled' },
    ]);
    expect(await s.store.records.enqueue([item('a')], { now: T0 + 6, replace: true })).toEqual([
      { code: 'replaced' },
    ]);
    expect(await s.record('a')).toMatchObject({ state: 'queued', done: '', enq: String(T0 + 6) });
    expect(await s.zset(s.keys.finals)).toEqual({});
    expect((await pendingOf('a')).count).toEqual({ default: '1' });
    expect(await s.hash(s.keys.featureStats)).toMatchObject({
      'classify|enqueued': '2',
      'classify|canceled': '1',
    });
  });
});

describe('peek.lua', () => {
  it('answers null for no record, the values of a record, and params from their own key', async () => {
    await s.store.records.enqueue([item('a')], { now: T0 });
    expect(await s.store.records.peekMany(['a', 'zz'], ['state', 'model', 'params'])).toEqual([
      { state: 'queued', model: 'claude-haiku-4-5', params: item('a').params },
      null,
    ]);
  });

  it('answers a record holding the separator \\x1f as its array of values', async () => {
    await s.store.records.enqueue([item('odd', { model: 'x\x1fy' })], { now: T0 });
    expect(await s.store.records.peekMany(['odd'], ['model', 'state'])).toEqual([
      { model: 'x\x1fy', state: 'queued' },
    ]);
  });
});

describe('cancel.lua', () => {
  it("'ok': a queued request becomes final, out of the pending index and its counters", async () => {
    await s.store.records.enqueue([item('a', { deadline: T0 + 1 }), item('b')], { now: T0 });
    expect(await s.store.records.cancel(['a'], T0 + 10)).toEqual([{ code: 'ok' }]);
    expect(await s.record('a')).toMatchObject({
      state: 'canceled',
      done: String(T0 + 10),
      upd: String(T0 + 10),
    });
    expect(await s.zset(s.keys.finals)).toEqual({ a: T0 + 10 });
    expect(await pendingOf('a')).toEqual({
      score: null,
      groups: { g1: T0 },
      count: { default: '1' },
      bytes: { default: '100' },
    });
    expect(await s.zset(s.keys.deadlines)).toEqual({});
    expect(await s.field('b', 'state')).toBe('queued');
    expect(await s.redis.hget(s.keys.stats, 'canceled')).toBe('1');
    expect(await s.hash(s.keys.featureOpen)).toEqual({ 'classify|0': '1' });
    expect(await s.hash(s.keys.featureStats)).toMatchObject({ 'classify|canceled': '1' });
  });

  it("'unknown', 'canceled' (already) and 'not-queued:<state>' change nothing", async () => {
    await s.claimed('sub1', [item('c')]);
    await s.store.records.enqueue([item('a')], { now: T0 });
    await s.store.records.cancel(['a'], T0 + 10);
    expect(await s.store.records.cancel(['zz', 'a', 'c'], T0 + 20)).toEqual([
      { code: 'unknown' },
      { code: 'canceled' },
      { code: 'not-queued', state: 'claimed' },
    ]);
    expect(await s.record('zz')).toEqual({});
    expect(await s.record('a')).toMatchObject({ state: 'canceled', done: String(T0 + 10) });
    expect(await s.record('c')).toMatchObject({ state: 'claimed', sub: 'sub1' });
    expect(await s.redis.hget(s.keys.stats, 'canceled')).toBe('1');
  });
});
