/**
 * claim.lua, release.lua, commit.lua and held.lua (store.submissions): every output their headers
 * list, and what each leaves in the keys.
 */
import { describe, expect, it } from 'vitest';
import { batch, commitMeta, item, requeue, T0, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();

const meta = commitMeta(2);

describe('claim.lua', () => {
  it('takes ready requests in ready order within the count and byte budget, per-item overhead included', async () => {
    await s.store.records.enqueue([item('a')], { now: T0 });
    await s.store.records.enqueue([item('b')], { now: T0 + 1 });
    await s.store.records.enqueue([item('c')], { now: T0 + 2 });
    await s.openSubmission('sub1');
    // 3 × 100 bytes + 3 × 1 overhead > 302: only two fit
    const got = await s.store.submissions.claim('g1', 'sub1', 10, 302, T0 + 10, 1);
    expect(got).toEqual({
      bytes: 200,
      items: [
        ['a', item('a').params],
        ['b', item('b').params],
      ],
    });
    expect(await s.record('a')).toMatchObject({ state: 'claimed', sub: 'sub1', upd: String(T0 + 10) });
    expect(await s.field('c', 'state')).toBe('queued');
    expect(await s.store.submissions.members('sub1')).toEqual(['a', 'b']);
    expect(await s.hash(s.keys.submission('sub1'))).toMatchObject({ count: '2', bytes: '200' });
    expect(await s.zset(s.keys.pending('g1'))).toEqual({ c: T0 + 2 });
    expect(await s.zset(s.keys.groups)).toEqual({ g1: T0 + 2 });
    expect(await s.hash(s.keys.partitionCount)).toEqual({ default: '1' });
    expect(await s.hash(s.keys.partitionBytes)).toEqual({ default: '100' });
  });

  it('answers { 0 } when nothing is ready, and drops index entries whose record is not queued', async () => {
    await s.store.records.enqueue([item('a')], { now: T0 });
    await s.openSubmission('sub1');
    expect(await s.store.submissions.claim('g1', 'sub1', 10, 1e9, T0 - 1)).toEqual({ bytes: 0, items: [] });
    expect(await s.field('a', 'state')).toBe('queued');
    // a stale entry: the record says claimed, the index still has it
    await s.redis.hset(s.keys.record('a'), 'state', 'claimed');
    expect(await s.store.submissions.claim('g1', 'sub1', 10, 1e9, T0 + 1)).toEqual({ bytes: 0, items: [] });
    expect(await s.redis.exists(s.keys.pending('g1'))).toBe(0);
    expect(await s.zset(s.keys.groups)).toEqual({});
    expect(await s.store.submissions.members('sub1')).toEqual([]);
  });
});

describe('release.lua', () => {
  it('puts back the members still claimed by the submission and marks it released', async () => {
    await s.claimed('sub1', [item('a'), item('b'), item('c')]);
    // b left the submission (requeued by an outcome), so release leaves it alone
    await s.store.outcomes.apply([requeue('b', 'sub1', T0 + 500)], T0 + 1);
    expect(await s.store.submissions.release('sub1', { now: T0 + 10, readyAt: T0 + 1000 })).toBe(2);
    expect(await s.record('a')).toMatchObject({ state: 'queued', sub: '', ready: String(T0 + 1000) });
    expect(await s.zset(s.keys.pending('g1'))).toEqual({ a: T0 + 1000, b: T0 + 500, c: T0 + 1000 });
    expect(await s.zset(s.keys.delayed)).toEqual({ a: T0 + 1000, b: T0 + 500, c: T0 + 1000 });
    expect(await s.hash(s.keys.partitionCount)).toEqual({ default: '3' });
    expect(await s.hash(s.keys.submission('sub1'))).toMatchObject({
      state: 'released',
      resolved: String(T0 + 10),
    });
    expect(await s.zset(s.keys.resolvedSubmissions)).toEqual({ sub1: T0 + 10 });
    expect(await s.store.submissions.openIds()).toEqual([]);
  });

  it('without a ready-at each keeps its own ready time; 0 when nothing is held', async () => {
    await s.claimed('sub1', [item('a')], T0);
    expect(await s.store.submissions.release('sub1', { now: T0 + 10 })).toBe(1);
    expect(await s.field('a', 'ready')).toBe(String(T0));
    expect(await s.zset(s.keys.delayed)).toEqual({});
    expect(await s.store.submissions.release('sub1', { now: T0 + 20 })).toBe(0);
  });
});

describe('commit.lua', () => {
  it("answers the submission's state before ('claiming'): it becomes submitted, the batch in flight", async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    expect(await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta, T0 + 10)).toBe('claiming');
    expect(await s.hash(s.keys.submission('sub1'))).toMatchObject({
      state: 'submitted',
      batch: 'msgbatch_1',
      resolved: String(T0 + 10),
    });
    expect(await s.hash(s.keys.batch('msgbatch_1'))).toMatchObject({
      id: 'msgbatch_1',
      sub: 'sub1',
      state: 'submitted',
      status: 'in_progress',
      count: '2',
      submitted: String(T0 + 10),
      created: String(T0),
      origin: '',
    });
    expect(await s.redis.smembers(s.keys.inflight)).toEqual(['msgbatch_1']);
    expect(await s.store.submissions.openIds()).toEqual([]);
    expect(await s.redis.hget(s.keys.stats, 'batches')).toBe('1');
  });

  it("'creating' likewise", async () => {
    await s.claimed('sub1', [item('a')]);
    await s.store.submissions.update('sub1', { state: 'creating' });
    expect(await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta, T0 + 10)).toBe('creating');
    expect(await s.redis.hget(s.keys.submission('sub1'), 'state')).toBe('submitted');
  });

  it("'submitted': a second batch of the submission is recorded as a duplicate; the first decides", async () => {
    await s.claimed('sub1', [item('a')]);
    await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta, T0 + 10);
    expect(await s.store.submissions.commit('sub1', batch('msgbatch_2'), meta, T0 + 20)).toBe('submitted');
    expect(await s.hash(s.keys.submission('sub1'))).toMatchObject({
      batch: 'msgbatch_1',
      duplicates: 'msgbatch_2,',
    });
    expect(await s.redis.hget(s.keys.batch('msgbatch_2'), 'origin')).toBe('duplicate');
    expect((await s.redis.smembers(s.keys.inflight)).sort()).toEqual(['msgbatch_1', 'msgbatch_2']);
    expect(await s.redis.hget(s.keys.stats, 'duplicate_batches')).toBe('1');
  });

  it("'released': the batch is recorded, the submission stays released", async () => {
    await s.claimed('sub1', [item('a')]);
    await s.store.submissions.release('sub1', { now: T0 + 5 });
    expect(await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta, T0 + 10)).toBe('released');
    expect(await s.hash(s.keys.submission('sub1'))).toMatchObject({ state: 'released' });
    expect(await s.redis.hget(s.keys.submission('sub1'), 'batch')).toBeNull();
    expect(await s.redis.hget(s.keys.batch('msgbatch_1'), 'sub')).toBe('sub1');
    expect(await s.redis.smembers(s.keys.inflight)).toEqual(['msgbatch_1']);
  });

  it("'' (no such submission, an adopted orphan), then 'known' for the same batch again", async () => {
    const adopted = { ...meta, origin: 'adopted' as const };
    expect(await s.store.submissions.commit('orphan-1', batch('msgbatch_9'), adopted, T0 + 10)).toBe('');
    expect(await s.hash(s.keys.submission('orphan-1'))).toEqual({
      state: 'submitted',
      batch: 'msgbatch_9',
      resolved: String(T0 + 10),
    });
    expect(await s.redis.hget(s.keys.batch('msgbatch_9'), 'origin')).toBe('adopted');
    const before = await s.hash(s.keys.batch('msgbatch_9'));
    expect(await s.store.submissions.commit('orphan-1', batch('msgbatch_9'), adopted, T0 + 20)).toBe('known');
    expect(await s.hash(s.keys.batch('msgbatch_9'))).toEqual(before);
    expect(await s.redis.hget(s.keys.stats, 'batches')).toBe('1');
  });
});

describe('held.lua', () => {
  it('answers how many members the range had, then the ones still claimed by the submission', async () => {
    await s.claimed('sub1', [item('a'), item('b'), item('c'), item('d')]);
    await s.store.outcomes.apply([requeue('b', 'sub1', T0 + 500)], T0 + 1);
    await s.store.submissions.moveMembers('sub1', 'sub2', ['d']);
    expect(await s.store.submissions.held('sub1', 0, 1)).toEqual({ read: 2, held: ['a'] });
    expect(await s.store.submissions.held('sub1', 0, -1)).toEqual({ read: 3, held: ['a', 'c'] });
    expect(await s.store.submissions.held('sub1', 10, 20)).toEqual({ read: 0, held: [] });
  });
});
