import { rawStore } from '@nightshift/store/testing';
import { queuedItem, useRedis } from '@nightshift/testing';
import type { Queue } from 'bullmq';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ApplyItem,
  boardCounts,
  boardPage,
  createRedis,
  type EnqueueItem,
  openQueue,
  promoteRequests,
  Store,
} from '../src/index.js';

const fx = useRedis((url) => createRedis({ url }));
let store: Store;
let dead: Queue;
let n = 0;
const T = 1_000_000;
const MIN = 60_000;

beforeEach(async () => {
  const prefix = `bb${++n}`;
  store = new Store(fx.redis, prefix);
  await dead?.close();
  dead = openQueue('deadLetters', fx.redis, prefix);
});

const item = (cid: string, group = 'g1'): EnqueueItem => queuedItem(cid, { group });
const entry = { attempt: 1, batchId: 'b1', outcome: 'errored' as const, at: T };
const requeue = (cid: string, readyAt: number): ApplyItem => ({
  cid,
  action: 'requeue',
  guardSub: 's1',
  readyAt,
  error: null,
  entry,
  countsAttempt: true,
});
const success = (cid: string): ApplyItem => ({
  cid,
  action: 'success',
  mode: 'batch',
  tokens: { input: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1 },
  costNano: 1,
  listNano: 2,
  entry: { ...entry, outcome: 'succeeded' },
  batchId: 'b1',
  delivery: 'res-b1-x',
});
async function claimAll(sub: string, group = 'g1', at = T) {
  await store.submissions.open({
    id: sub,
    partition: 'default',
    reason: 'manual',
    owner: 'x',
    leaseMs: MIN,
    now: at,
  });
  await store.submissions.claim(group, sub, 100, 1e9, at);
}
const counts = (now = T) => boardCounts(store, dead, now);
const delayedIndex = () => fx.redis.zrange(rawStore(store).keys.delayed, '0', '-1');

describe('the delayed index', () => {
  it('follows a request into backoff, out by promote, claim or cancel', async () => {
    await store.records.enqueue(
      ['a', 'b', 'c'].map((c) => item(c)),
      { now: T },
    );
    await claimAll('s1');
    await store.outcomes.apply(
      [requeue('a', T + 10 * MIN), requeue('b', T + 20 * MIN), requeue('c', T + 30 * MIN)],
      T,
    );
    expect(await counts()).toMatchObject({ waiting: 0, delayed: 3 });
    expect(await boardPage(store, dead, 'delayed', 1, 5, T)).toEqual(['b', 'c']);
    expect(await promoteRequests(store, ['a', 'zz'], T)).toEqual([{ code: 'ok' }, { code: 'unknown' }]);
    expect(await boardPage(store, dead, 'waiting', 0, 9, T)).toEqual(['a']);
    // Time passes: b is ready by itself and reads as waiting, though still indexed.
    expect(await counts(T + 25 * MIN)).toMatchObject({ waiting: 2, delayed: 1 });
    await store.submissions.open({
      id: 's2',
      partition: 'default',
      reason: 'manual',
      owner: 'x',
      leaseMs: MIN,
    });
    await store.submissions.claim('g1', 's2', 100, 1e9, T + 25 * MIN);
    expect(await delayedIndex()).toEqual(['c']);
    expect(await store.records.cancel(['c'], T)).toEqual([{ code: 'ok' }]);
    expect(await delayedIndex()).toEqual([]);
  });

  it('takes a release with a create backoff, not one that keeps the ready time', async () => {
    await store.records.enqueue(
      ['a', 'b'].map((c) => item(c)),
      { now: T },
    );
    await claimAll('s1');
    await store.submissions.release('s1', { readyAt: T + MIN, now: T });
    expect(await counts()).toMatchObject({ waiting: 0, delayed: 2, active: 0 });
    await claimAll('s2', 'g1', T + MIN);
    await store.submissions.release('s2', { now: T + MIN });
    expect(await delayedIndex()).toEqual([]);
    expect(await counts(T + MIN)).toMatchObject({ waiting: 2, delayed: 0 });
  });
});

describe('pages and counts', () => {
  it('pages waiting requests across groups in claim order, skipping groups not ready', async () => {
    await store.records.enqueue([item('g1-a', 'g1'), item('g1-b', 'g1')], { now: T });
    await store.records.enqueue([item('g2-a', 'g2'), item('g2-b', 'g2')], { now: T + 1 });
    await store.records.enqueue([item('g3-a', 'g3')], { now: T + 2 });
    await claimAll('s1', 'g3', T + 2);
    await store.outcomes.apply([requeue('g3-a', T + MIN)], T + 2);
    const page = (start: number, end: number) => boardPage(store, dead, 'waiting', start, end, T + 3);
    expect(await page(0, 9)).toEqual(['g1-a', 'g1-b', 'g2-a', 'g2-b']);
    expect(await page(1, 2)).toEqual(['g1-b', 'g2-a']);
    expect(await page(3, 9)).toEqual(['g2-b']);
    expect(await page(4, 9)).toEqual([]);
  });

  it('counts members of batches in flight and open submissions once, and succeeded ones until retention', async () => {
    await store.records.enqueue(
      ['a', 'b', 'c'].map((c) => item(c)),
      { now: T },
    );
    await store.records.enqueue([item('d', 'g2')], { now: T });
    await claimAll('s1');
    const batch = {
      id: 'b1',
      created_at: new Date(T).toISOString(),
      expires_at: new Date(T + 1e8).toISOString(),
    };
    await store.submissions.commit(
      's1',
      { ...batch, processing_status: 'in_progress' },
      { count: 3, bytes: 300, partition: 'default', reason: 'manual' },
      T,
    );
    await claimAll('s2', 'g2');
    expect(await counts()).toMatchObject({ waiting: 0, active: 4, completed: 0 });
    expect(await boardPage(store, dead, 'active', 2, 9, T)).toEqual(['c', 'd']);
    await store.outcomes.apply([success('a'), success('b')], T + MIN);
    await store.batches.markCollected('b1', {}, T + MIN);
    expect(await counts()).toMatchObject({ active: 1, completed: 2 });
    expect(await boardPage(store, dead, 'completed', 0, 9, T)).toEqual(['b', 'a']);
    await store.retention.purgeFinal(T + 2 * MIN);
    expect(await counts()).toMatchObject({ completed: 0 });
    expect(await boardPage(store, dead, 'completed', 0, 9, T)).toEqual([]);
  });
});
