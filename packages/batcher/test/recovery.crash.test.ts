import { jobIds } from '@nightshift/shared';
import { openQueue, type Store } from '@nightshift/store';
import { uniquePrefix } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import type { TestOnlyHooks } from '../src/index.js';
import { batcherFor, clock, enqueue, storeFor, useEnv } from './helpers.js';

const LEASE = 60_000;
const env = useEnv({ resetEach: true });

class Crash extends Error {}
const crash = () => {
  throw new Crash('injected crash');
};

async function start(prefix: string, over: Parameters<typeof batcherFor>[2] = {}) {
  const b = await batcherFor(env, prefix, { submissionLeaseMs: LEASE, createTimeoutMs: 5_000, ...over });
  env.open.push(b);
  return b;
}

/** Every emulator batch created since `since` (index), with its custom_ids. */
const batchesSince = (since: number) =>
  env.emu.inspect
    .batches()
    .slice(since)
    .map((b) => ({ id: b.id, cids: env.emu.inspect.requests(b.id).map((r) => r.custom_id) }));

/** Each request is in exactly one batch, and the store says so. */
async function expectEachInOneBatch(store: Store, cids: string[], since: number) {
  const seen = batchesSince(since).flatMap((b) => b.cids);
  expect(seen.sort()).toEqual([...cids].sort());
  for (const cid of cids) expect((await store.records.status(cid)).state).toBe('in_batch');
  expect(await store.submissions.openIds()).toEqual([]);
}

/** A fresh prefix with `n` requests queued, and how many batches the emulator had before. */
async function queued(n: number) {
  const prefix = uniquePrefix();
  const store = storeFor(env, prefix);
  const cids = await enqueue(store, n);
  return { prefix, store, cids, since: env.emu.inspect.batches().length };
}

async function crashAt(prefix: string, hooks: TestOnlyHooks) {
  const b = await start(prefix, { testOnlyHooks: hooks });
  await expect(b.runFlushOnce('manual')).rejects.toBeInstanceOf(Crash);
}

describe('a crash in the submit path, then a batcher starts with the lease expired', () => {
  it('after claim, before intent: recovery releases, the next flush submits once', async () => {
    const { prefix, store, cids, since } = await queued(6);
    await crashAt(prefix, { afterClaim: crash });
    const [sub] = await store.submissions.openIds();
    expect((await store.submissions.get(sub!))?.state).toBe('claiming');
    expect((await store.records.status(cids[0]!)).state).toBe('submitting');
    clock.advance(LEASE);
    const b = await start(prefix);
    const r = await b.runFlushOnce('manual');
    expect(r.recovered).toEqual({ released: 6, adopted: 0 });
    await expectEachInOneBatch(store, cids, since);
  });

  it('after intent, before create: nothing at the API, so recovery releases', async () => {
    const { prefix, store, cids, since } = await queued(4);
    // The steps the batcher takes, stopped right before batches.create.
    const now = clock.now();
    await store.submissions.open({
      id: 's-x',
      partition: 'default',
      reason: 'time',
      owner: 'dead',
      leaseMs: LEASE,
      now,
    });
    await store.submissions.claim('default-g1', 's-x', 10, 1e9, now, 1);
    await store.submissions.update('s-x', { state: 'creating', createAt: now, lease: now + LEASE });
    clock.advance(LEASE);
    const b = await start(prefix);
    const r = await b.runFlushOnce('manual');
    expect(r.recovered).toEqual({ released: 4, adopted: 0 });
    expect((await store.submissions.get('s-x'))?.state).toBe('released');
    await expectEachInOneBatch(store, cids, since);
  });

  it('after create, before commit: recovery adopts the batch; nothing is submitted twice', async () => {
    const { prefix, store, cids, since } = await queued(5);
    await crashAt(prefix, { afterCreate: crash });
    expect(batchesSince(since)).toHaveLength(1);
    const orphan = batchesSince(since)[0]!.id;
    expect(await store.batches.get(orphan)).toBeNull(); // paid, and unknown until recovery
    clock.advance(LEASE);
    // Start-up recovery of a worker process adopts it before any flush.
    const b = await start(prefix, { runWorker: true, tickMs: 3600_000 });
    expect((await store.batches.get(orphan))?.origin).toBe('adopted');
    await b.runFlushOnce('manual');
    await expectEachInOneBatch(store, cids, since);
    const q = openQueue('batches', env.redis, prefix);
    expect(await q.getJob(jobIds.batch(orphan))).toBeTruthy();
    await q.close();
  });

  it('after commit, before the tracking job: start-up adds the job; no second batch', async () => {
    const { prefix, store, cids, since } = await queued(3);
    await crashAt(prefix, { afterCommit: crash });
    const [only] = batchesSince(since);
    const q = openQueue('batches', env.redis, prefix);
    expect(await q.getJob(jobIds.batch(only!.id))).toBeUndefined();
    await start(prefix, { runWorker: true, tickMs: 3600_000 });
    expect((await q.getJob(jobIds.batch(only!.id)))?.data).toMatchObject({
      batchId: only!.id,
      requestCount: 3,
    });
    await q.close();
    await expectEachInOneBatch(store, cids, since);
  });

  it('a lease that has not expired is left alone (its flush may still be running)', async () => {
    const { prefix, store, cids } = await queued(2);
    await crashAt(prefix, { afterClaim: crash });
    const b = await start(prefix);
    const r = await b.runFlushOnce('manual');
    expect(r.recovered).toEqual({ released: 0, adopted: 0 });
    expect(r.batches).toEqual([]);
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('submitting');
    clock.advance(LEASE);
    const again = await b.runFlushOnce('manual');
    expect(again.recovered.released).toBe(2);
    expect(again.batches.map((x) => x.requestCount)).toEqual([2]);
  });
});
