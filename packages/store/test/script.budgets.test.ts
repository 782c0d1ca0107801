/**
 * Budgets in the scripts (_budget.lua): claim.lua reserves each request's estimate or holds it,
 * apply.lua settles a success from its real cost and releases a requeue, death or move to the
 * real-time path, release.lua releases; store.budgets reads usage and answers enqueue's check.
 */
import { describe, expect, it } from 'vitest';
import { dead, item, requeue, success, T0, toRealtime, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();
const DAY = '2023-11-14'; // utcDay(T0)
const MONTH = '2023-11';

/** A budget of `nano` nano-dollars (limitUsd is in dollars). */
const budget = (name: string, nano: number, over: Record<string, unknown> = {}) =>
  s.store.budgets.set({ name, period: 'day', limitUsd: nano / 1e9, mode: 'hold', alertAt: 0.8, ...over });
const use = () => s.hash(s.keys.budgetUse);

describe('claim.lua with budgets', () => {
  it('reserves each request estimate in every budget covering it, and names them on the record', async () => {
    await budget('cls', 10_000, { feature: 'classify' });
    await budget('all', 100_000, { period: 'month' });
    await budget('other', 10_000, { feature: 'summarize' });
    const got = await s.claimed('sub1', [item('a', { est: 3000 }), item('b', { est: 4000 })]);
    expect(got.items.map(([c]) => c)).toEqual(['a', 'b']);
    expect(got.held).toBeUndefined();
    expect(await use()).toEqual({ [`cls/day|${DAY}|r`]: '7000', [`all/month|${MONTH}|r`]: '7000' });
    expect(await s.field('a', 'bres')).toBe('3000');
    expect((await s.field('a', 'bwin'))!.split(',').sort()).toEqual([`all/month|${MONTH}`, `cls/day|${DAY}`]);
  });

  it('holds a request a budget has no room for: left queued, counted, nothing reserved for it', async () => {
    await budget('cls', 10_000);
    const got = await s.claimed('sub1', [
      item('a', { est: 6000 }),
      item('b', { est: 6000 }),
      item('c', { est: 4000 }),
    ]);
    expect(got.items.map(([c]) => c)).toEqual(['a', 'c']);
    expect(got.held).toBe(1);
    expect(await s.field('b', 'state')).toBe('queued');
    expect(await s.field('b', 'bres')).toBeNull();
    expect(Object.keys(await s.zset(s.keys.pending('g1')))).toEqual(['b']);
    expect(await use()).toEqual({ [`cls/day|${DAY}|r`]: '10000' });
  });

  it('takes what its budgets have room for from behind held requests at the front of the group', async () => {
    await budget('sum', 5000, { feature: 'summarize' });
    // a1, a2 (held: their budget has no room) sort before b1, b2 (no budget) at the same ready time.
    await s.store.records.enqueue(
      [
        item('a1', { feature: 'summarize', est: 6000 }),
        item('a2', { feature: 'summarize', est: 6000 }),
        item('b1', { est: 6000 }),
        item('b2', { est: 6000 }),
      ],
      { now: T0 },
    );
    await s.openSubmission('sub1');
    const got = await s.store.submissions.claim('g1', 'sub1', 2, 1e9, T0);
    expect(got.items.map(([c]) => c)).toEqual(['b1', 'b2']);
    expect(got.held).toBe(2);
    expect(Object.keys(await s.zset(s.keys.pending('g1')))).toEqual(['a1', 'a2']);
  });

  it('reserves nothing and holds nothing when no budget covers the request', async () => {
    await budget('other', 1, { partition: 'tenant-b' });
    const got = await s.claimed('sub1', [item('a', { est: 6000 })]);
    expect(got.items).toHaveLength(1);
    expect(await use()).toEqual({});
    expect(await s.field('a', 'bwin')).toBeNull();
  });
});

describe('apply.lua and release.lua with budgets', () => {
  it('settles a success: its reservation goes, its real cost is spent in the same windows', async () => {
    await budget('cls', 10_000);
    await s.claimed('sub1', [item('a', { est: 3000 }), item('b', { est: 3000 })]);
    // a day later: still settled in the window it reserved in
    await s.store.outcomes.apply([success('a', { costNano: 1200 })], T0 + 86_400_000);
    expect(await use()).toEqual({ [`cls/day|${DAY}|r`]: '3000', [`cls/day|${DAY}|s`]: '1200' });
    expect(await s.field('a', 'bwin')).toBeNull();
    // a duplicate result changes nothing
    await s.store.outcomes.apply([success('a', { costNano: 1200 })], T0);
    expect((await use())[`cls/day|${DAY}|s`]).toBe('1200');
  });

  it('releases on requeue, death and the move to the real-time path', async () => {
    await budget('cls', 10_000);
    await s.claimed('sub1', [item('a', { est: 1000 }), item('b', { est: 2000 }), item('c', { est: 4000 })]);
    await s.store.outcomes.apply([requeue('a', 'sub1', T0), dead('b', 'sub1'), toRealtime('c', 'sub1')], T0);
    expect(await use()).toEqual({ [`cls/day|${DAY}|r`]: '0' });
    expect(await s.field('a', 'bres')).toBeNull();
    // requeued, it is claimed (and reserved) again
    await s.openSubmission('sub2');
    await s.store.submissions.claim('g1', 'sub2', 10, 1e9, T0);
    expect((await use())[`cls/day|${DAY}|r`]).toBe('1000');
  });

  it('spends an unreserved success (the real-time path) in the budgets covering it today', async () => {
    await budget('cls', 10_000);
    await s.store.records.enqueue([item('rt', { state: 'realtime', est: 999 })], { now: T0 });
    await s.store.outcomes.apply([success('rt', { mode: 'realtime', costNano: 2500 })], T0);
    expect(await use()).toEqual({ [`cls/day|${DAY}|s`]: '2500' });
  });

  it('release.lua gives back the reservations of a released submission', async () => {
    await budget('cls', 10_000);
    await s.claimed('sub1', [item('a', { est: 3000 }), item('b', { est: 3000 })]);
    expect(await s.store.submissions.release('sub1', { now: T0 })).toBe(2);
    expect(await use()).toEqual({ [`cls/day|${DAY}|r`]: '0' });
    expect(await s.field('a', 'bwin')).toBeNull();
  });
});

describe('queued-est (_pending.lua): the estimates of queued requests per feature and partition', () => {
  const queued = () => s.hash(s.keys.queuedEst);
  it('follows every way into and out of the queue', async () => {
    await s.store.records.enqueue(
      [
        item('a', { est: 1000 }),
        item('b', { est: 2000 }),
        item('c', { est: 4000, partition: 'p2', group: 'g2' }),
      ],
      { now: T0 },
    );
    expect(await queued()).toEqual({ 'classify|default': '3000', 'classify|p2': '4000' });
    // the same request again changes nothing; a replace swaps its estimate
    await s.store.records.enqueue([item('a', { est: 1000 })], { now: T0 });
    await s.store.records.enqueue([item('a', { est: 1500, phash: 'other' })], { now: T0, replace: true });
    expect((await queued())['classify|default']).toBe('3500');
    // claimed: out of the queue
    await s.openSubmission('sub1');
    await s.store.submissions.claim('g1', 'sub1', 10, 1e9, T0);
    expect((await queued())['classify|default']).toBe('0');
    // requeued and released: back
    await s.store.outcomes.apply([requeue('a', 'sub1', T0)], T0);
    expect((await queued())['classify|default']).toBe('1500');
    await s.store.submissions.release('sub1', { now: T0 });
    expect((await queued())['classify|default']).toBe('3500');
    // canceled and a success of a queued request: out
    await s.store.records.cancel(['a'], T0);
    await s.store.outcomes.apply([success('b')], T0);
    expect((await queued())['classify|default']).toBe('0');
    expect((await queued())['classify|p2']).toBe('4000');
  });
});

describe('store.budgets', () => {
  it('lists, syncs from a file, removes, and reports usage in dollars', async () => {
    await budget('cls', 10_000);
    await s.store.budgets.sync([
      { name: 'docs', period: 'month', limitUsd: 50, mode: 'refuse', alertAt: 0.5 },
      { name: 'docs', period: 'day', limitUsd: 5, mode: 'hold', alertAt: 0.8 },
    ]);
    await s.store.budgets.sync([
      { name: 'docs', period: 'month', limitUsd: 60, mode: 'refuse', alertAt: 0.5 },
    ]);
    expect((await s.store.budgets.list()).map((b) => `${b.id}:${b.source}:${b.limitUsd}`)).toEqual([
      'cls/day:cli:0.00001',
      'docs/month:file:60',
    ]);
    await s.claimed('sub1', [item('a', { est: 3000 })]);
    await s.store.records.enqueue([item('q', { est: 500 })], { now: T0 });
    const [cls] = await s.store.budgets.usage(T0);
    expect(cls).toMatchObject({
      id: 'cls/day',
      window: DAY,
      reserved: 3e-6,
      spent: 0,
      queued: 5e-7,
      remaining: 7e-6,
    });
    expect(cls!.resetsAt).toBe(Date.UTC(2023, 10, 15));
    expect(await s.store.budgets.remove('docs')).toEqual(['docs/month']);
    expect(await s.store.budgets.remove('nope')).toEqual([]);
  });

  it('refuses at enqueue for a refuse budget the call would pass, naming it', async () => {
    await budget('cls', 10_000, { mode: 'refuse', feature: 'classify' });
    await s.claimed('sub1', [item('a', { est: 6000 })]);
    const it1 = { cid: 'x', feature: 'classify', partition: 'default', est: 3000, deadline: null };
    expect(await s.store.budgets.check([it1], T0)).toBeNull();
    // what is queued counts as promised: 6000 reserved + 2000 queued + 3000 > 10000
    await s.store.records.enqueue([item('q', { est: 2000 })], { now: T0 });
    expect(await s.store.budgets.check([it1], T0)).toMatchObject({ budget: 'cls/day', customIds: ['x'] });
    await s.store.records.cancel(['q'], T0);
    const refusal = await s.store.budgets.check([it1, { ...it1, cid: 'y' }], T0);
    expect(refusal).toMatchObject({ budget: 'cls/day', customIds: ['x', 'y'] });
    expect(refusal!.detail).toMatch(/mode refuse/);
    // another feature is not covered
    expect(await s.store.budgets.check([{ ...it1, feature: 'other', est: 1e9 }], T0)).toBeNull();
  });

  it('refuses at enqueue for a full hold budget only what has a deadline it cannot make', async () => {
    await budget('cls', 10_000);
    await s.claimed('sub1', [item('a', { est: 9000 })]);
    const base = { feature: 'classify', partition: 'default', est: 3000 };
    const resets = Date.UTC(2023, 10, 15);
    const ok = { ...base, cid: 'ok', deadline: resets + 86_400_000 };
    const none = { ...base, cid: 'none', deadline: null };
    const late = { ...base, cid: 'late', deadline: resets + 3_600_000 };
    expect(await s.store.budgets.check([ok, none], T0)).toBeNull();
    const refusal = await s.store.budgets.check([ok, none, late], T0);
    expect(refusal).toMatchObject({ budget: 'cls/day', customIds: ['late'] });
    expect(refusal!.detail).toMatch(/mode hold/);
  });

  it('enqueue.lua stores the estimate', async () => {
    await s.store.records.enqueue([item('a', { est: 4321 })], { now: T0 });
    expect(await s.field('a', 'est')).toBe('4321');
  });
});
