import type { Store } from '@nightshift/store';
import { uniquePrefix } from '@nightshift/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { minShare, rotation, shareRoom, shareShortRoom } from '../src/admission.js';
import type { FlushReport } from '../src/index.js';
import { batchContents, batcherFor, clock, enqueue, freshBatcher, storeFor, useEnv } from './helpers.js';

const env = useEnv({ resetEach: true });

/** Ends batches at the emulator and marks them collected, as the collector would once it applied them. */
async function endBatches(store: Store, ids: string[]) {
  for (const id of ids) {
    env.emu.control.complete(id);
    await store.batches.markCollected(id, {}, clock.now());
  }
}

const submitted = (r: FlushReport) => r.batches.reduce((n, b) => n + b.requestCount, 0);

describe('shareRoom', () => {
  it('gives a small demand all it asks beside a large one, the rest to the large', () => {
    expect(shareRoom([50_000, 100], 1_000)).toEqual([900, 100]);
    expect(shareRoom([5, 5, 5], 7)).toEqual([3, 2, 2]);
    expect(shareRoom([0, 10], 4)).toEqual([0, 4]);
    expect(shareRoom([3, 4], 100)).toEqual([3, 4]);
  });

  it('never gives more than the room or than a demand, and leaves no room unused that a demand wants', () => {
    // A small seeded generator: the same 2,000 cases every run.
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % (n + 1);
    };
    for (let run = 0; run < 2_000; run++) {
      const demands = Array.from({ length: next(12) }, () => next(10_000));
      const room = next(50_000);
      const out = shareRoom(demands, room);
      const total = out.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(room);
      for (const [i, v] of out.entries()) expect(v).toBeLessThanOrEqual(demands[i]!);
      expect(total).toBe(
        Math.min(
          room,
          demands.reduce((a, b) => a + b, 0),
        ),
      );
      // fair: a demand served less than it asked got at least as much as any other, less one
      const max = Math.max(0, ...out);
      for (const [i, v] of out.entries()) {
        if (v < demands[i]!) expect(v).toBeGreaterThanOrEqual(max - 1);
      }
    }
  });
});

describe('shareShortRoom', () => {
  it('shares as shareRoom while every share it cannot serve whole is at least the minimum', () => {
    expect(shareShortRoom([49_100, 100], 1_000, 100, [0, 1])).toEqual({ shares: [900, 100], short: false });
    expect(shareShortRoom([500, 500, 500, 500], 100, 10, [0, 1, 2, 3])).toEqual({
      shares: [25, 25, 25, 25],
      short: false,
    });
  });

  it('gives a shorter room in whole chunks, one each in the order given, serving small demands whole', () => {
    // 25 for 4 backlogs: two chunks of 10 in turn, 5 wait (not 7 + 6 + 6 + 6)
    expect(shareShortRoom([500, 500, 500, 500], 25, 10, [2, 3, 0, 1])).toEqual({
      shares: [0, 0, 10, 10],
      short: true,
    });
    // the small demand (3) goes whole; a chunk that does not fit is skipped for one that does (4)
    expect(shareShortRoom([500, 3, 500, 4], 19, 10, [0, 1, 2, 3])).toEqual({
      shares: [10, 3, 0, 4],
      short: true,
    });
    // below every chunk: nothing now
    expect(shareShortRoom([500, 500], 9, 10, [0, 1]).shares).toEqual([0, 0]);
  });

  it('rotates by name after the last turn, wrapping, whatever partitions come and go', () => {
    expect(rotation(['c', 'a', 'b'], undefined)).toEqual([1, 2, 0]);
    expect(rotation(['c', 'a', 'b'], 'a')).toEqual([2, 0, 1]);
    expect(rotation(['c', 'a', 'b'], 'c')).toEqual([1, 2, 0]);
    expect(rotation(['c', 'a', 'd'], 'b')).toEqual([0, 2, 1]); // b is gone: c is next
  });

  it('takes a tenth of the cap as the minimum, at most maxRequests', () => {
    expect(minShare(100_000, 100_000)).toBe(10_000);
    expect(minShare(100_000, 5_000)).toBe(5_000);
    expect(minShare(5, 100)).toBe(1);
  });
});

describe('when the in-flight cap is reached', () => {
  it('submits only what fits, holds the rest queued, and fills the room as batches end', async () => {
    const { b, store } = await freshBatcher(env, { maxInFlightRequests: 100, maxWaitMs: 1, maxRequests: 60 });
    await enqueue(store, 250);
    clock.advance(5);
    const first = await b.runFlushOnce();
    expect(batchContents(env, first).map((c) => c.length)).toEqual([60, 40]);
    expect(first.admission).toEqual({ cap: 100, inFlight: 0, held: 150 });
    expect((await store.pending.overview(clock.now())).total).toBe(150);

    const full = await b.runFlushOnce();
    expect(full.batches).toEqual([]);
    expect(full.admission).toEqual({ cap: 100, inFlight: 100, held: 150 });
    expect(await store.admission.last()).toMatchObject({ cap: 100, inFlight: 100, held: 150 });

    await endBatches(store, [first.batches[0]!.batchId]);
    const refill = await b.runFlushOnce();
    expect(submitted(refill)).toBe(60);
    expect(refill.admission).toMatchObject({ inFlight: 40, held: 90 });
  });

  it('counts as held only ready requests, not those still in backoff', async () => {
    const { b, store } = await freshBatcher(env, { maxInFlightRequests: 100, maxWaitMs: 1, maxRequests: 60 });
    // 40 requests back in the queue with a retry backoff of an hour (a released submission's).
    const later = await enqueue(store, 40, {}, 'later');
    await store.submissions.open({
      id: 'sub-x',
      partition: 'default',
      reason: 'time',
      owner: 't',
      leaseMs: 60_000,
      now: clock.now(),
    });
    await store.submissions.claim('default-g1', 'sub-x', 100, 1e9, clock.now());
    await store.submissions.release('sub-x', { readyAt: clock.now() + 3_600_000, now: clock.now() });
    const ready = await enqueue(store, 250);
    clock.advance(5);
    const first = await b.runFlushOnce();
    expect(submitted(first)).toBe(100);
    expect(first.admission).toEqual({ cap: 100, inFlight: 0, held: 150 });
    expect(await store.admission.last()).toMatchObject({ held: 150 });
    expect(
      batchContents(env, first)
        .flat()
        .some((c) => later.includes(c)),
    ).toBe(false);

    // The held requests are canceled: only the 40 in backoff are left, which nothing holds.
    const sent = new Set(batchContents(env, first).flat());
    await store.records.cancel(
      ready.filter((c) => !sent.has(c)),
      clock.now(),
    );
    clock.advance(5);
    const after = await b.runFlushOnce();
    expect(after.batches).toEqual([]);
    expect(after.admission).toMatchObject({ held: 0 });
    expect(await store.admission.last()).toMatchObject({ held: 0 });
    // An empty queue records too.
    await store.records.cancel(later, clock.now());
    const empty = await b.runFlushOnce();
    expect(empty.admission).toEqual({ cap: 100, inFlight: 100, held: 0 });
  });

  it('counts a create a crashed flush may have made until recovery settles it: the cap holds across the crash', async () => {
    const prefix = uniquePrefix();
    const store = storeFor(env, prefix);
    const timing = { maxInFlightRequests: 50, maxWaitMs: 1, createTimeoutMs: 500, submissionLeaseMs: 1000 };
    // Batches stay in progress (recovery's list would end an instant one).
    env.emu.control.setProcessing('manual');
    onTestFinished(() => env.emu.control.setProcessing('instant'));
    const doomed = await batcherFor(env, prefix, {
      ...timing,
      instance: 'doomed',
      testOnlyHooks: {
        afterCreate: () => {
          throw new Error('killed between create and commit');
        },
      },
    });
    env.open.push(doomed);
    await enqueue(store, 80);
    clock.advance(5);
    const before = env.emu.inspect.batches().length;
    await expect(doomed.runFlushOnce()).rejects.toThrow(/killed/);
    expect(env.emu.inspect.batches().length).toBe(before + 1); // the batch exists at the API, unrecorded

    const survivor = await batcherFor(env, prefix, { ...timing, instance: 'survivor' });
    env.open.push(survivor);
    const during = await survivor.runFlushOnce();
    expect(during.batches).toEqual([]);
    expect(during.admission).toMatchObject({ inFlight: 50 });

    clock.advance(2_000); // the dead flush's lease has passed: recovery adopts its batch
    const after = await survivor.runFlushOnce();
    expect(after.recovered.adopted).toBe(1);
    expect(after.batches).toEqual([]);
    expect(after.admission).toMatchObject({ inFlight: 50, held: 30 });
    expect(env.emu.inspect.batches().length).toBe(before + 1);
  });
  it('leaves room for the claim of a flush that lost its lock mid-claim: the cap holds when that flush sends it', async () => {
    const prefix = uniquePrefix();
    const store = storeFor(env, prefix);
    const opts = { maxInFlightRequests: 100, maxWaitMs: 1, maxRequests: 50 };
    const survivor = await batcherFor(env, prefix, { ...opts, instance: 'survivor' });
    env.open.push(survivor);
    let taken: FlushReport | undefined;
    const stalled = await batcherFor(env, prefix, {
      ...opts,
      instance: 'stalled',
      flushLockMs: 150,
      testOnlyHooks: {
        afterClaim: async () => {
          if (taken) return;
          // The event loop stalls past the lock's lease (no renewal can run), so the lock lapses
          // and another batcher's flush takes it over while this claim is still to be sent.
          const until = Date.now() + 600;
          while (Date.now() < until) {
            // busy: a stalled process
          }
          await enqueue(store, 200, { partition: 'b' }, 'b');
          clock.advance(5);
          taken = await survivor.runFlushOnce();
        },
      },
    });
    env.open.push(stalled);
    await enqueue(store, 50, { partition: 'a' }, 'a');
    clock.advance(5);
    const r = await stalled.runFlushOnce();
    expect(submitted(r)).toBe(50); // the stalled flush sent what it had claimed
    expect(taken?.skipped).toBeUndefined();
    expect(taken?.admission).toMatchObject({ cap: 100, inFlight: 50 });
    expect(submitted(taken!)).toBe(50);
    expect((await store.admission.inFlight()).requests).toBe(100);
  });
});

describe('fairness between partitions', () => {
  it("with 50,000 queued in one partition and 100 in another, the small one's requests all go in the first flush with room", async () => {
    const { b, store } = await freshBatcher(env, {
      maxInFlightRequests: 1_000,
      maxWaitMs: 1,
      claimChunk: 1_000,
    });
    // The big partition is older and fills the cap first.
    await enqueue(store, 50_000, { partition: 'big', size: 20 }, 'big');
    clock.advance(5);
    const filled = await b.runFlushOnce();
    expect(submitted(filled)).toBe(1_000);
    await enqueue(store, 100, { partition: 'small', size: 20 }, 'small');
    clock.advance(5);
    const none = await b.runFlushOnce();
    expect(none.batches).toEqual([]);
    expect(none.admission).toMatchObject({ inFlight: 1_000, held: 49_100 });

    // Room for 1,000 again: oldest-first would give it all to the big partition.
    await endBatches(
      store,
      filled.batches.map((x) => x.batchId),
    );
    const tick = await b.runFlushOnce();
    const byPartition = Object.fromEntries(tick.batches.map((x) => [x.partition, x.requestCount]));
    expect(byPartition).toEqual({ small: 100, big: 900 });
    expect((await store.pending.ofPartition('small')).count).toBe(0);
  });

  it('keeps batches at the minimum share as room frees one batch at a time, the partitions taking turns', async () => {
    // A tenth of the cap: chunks of 10.
    const { b, store } = await freshBatcher(env, { maxInFlightRequests: 100, maxWaitMs: 1, claimChunk: 500 });
    const parts = ['p1', 'p2', 'p3', 'p4'];
    for (const p of parts) await enqueue(store, 500, { partition: p }, p);
    clock.advance(5);
    const first = await b.runFlushOnce();
    expect(first.batches.map((x) => x.requestCount)).toEqual([25, 25, 25, 25]);
    const inFlight = first.batches.map((x) => x.batchId);
    const all = [...first.batches];
    // Batches end one at a time, and a flush follows each end.
    for (let i = 0; i < 24; i++) {
      await endBatches(store, [inFlight.shift()!]);
      clock.advance(5);
      const r = await b.runFlushOnce();
      inFlight.push(...r.batches.map((x) => x.batchId));
      all.push(...r.batches);
      if (r.batches.length === 0) expect(r.admission?.held).toBeGreaterThan(0);
    }
    // No batch below the minimum (without it: 7, 6, 6, 6, then 2 or 1 request batches).
    expect(Math.min(...all.map((x) => x.requestCount))).toBeGreaterThanOrEqual(10);
    // Every partition had its turns: what each submitted is within two chunks of the others.
    const per = parts.map((p) =>
      all.filter((x) => x.partition === p).reduce((n, x) => n + x.requestCount, 0),
    );
    expect(Math.max(...per) - Math.min(...per)).toBeLessThanOrEqual(20);
    expect((await store.admission.inFlight()).requests).toBeLessThanOrEqual(100);
  });

  it('submits urgent deadlines before the rest, whatever their partition holds', async () => {
    const { b, store } = await freshBatcher(env, { maxInFlightRequests: 30, maxWaitMs: 1 });
    await enqueue(store, 200, { partition: 'a', group: 'bulk' }, 'a');
    await enqueue(store, 200, { partition: 'b', group: 'bulk' }, 'b');
    // Ten requests of partition b that must go now (a later group of b: urgent groups go first).
    const urgent = await enqueue(
      store,
      10,
      { partition: 'b', group: 'due', deadline: clock.now() + 25 * 3_600_000 },
      'due',
    );
    clock.advance(5);
    const r = await b.runFlushOnce();
    const sent = batchContents(env, r).flat();
    expect(sent.length).toBe(30);
    for (const cid of urgent) expect(sent).toContain(cid);
    // the other 20 are shared fairly between a and b
    expect(sent.filter((c) => c.startsWith('a-')).length).toBe(10);
    expect(sent.filter((c) => c.startsWith('b-')).length).toBe(10);
  });
});

describe('when the API answers 429 for its processing queue', () => {
  it('puts the claimed requests back untouched and backs off: one create per backoff, whatever the ticks and replicas', async () => {
    const prefix = uniquePrefix();
    const store = storeFor(env, prefix);
    // Another deployment on the workspace holds the queue: the API's cap is below ours.
    env.emu.control.complete(); // (earlier tests' batches out of the queue)
    env.emu.control.setProcessingQueue({ maxRequests: 20, retryAfterSec: 60 });
    try {
      const opts = { maxInFlightRequests: 1_000, maxWaitMs: 1, createBackoffMs: 30_000 };
      const a = await batcherFor(env, prefix, { ...opts, instance: 'a' });
      const c = await batcherFor(env, prefix, { ...opts, instance: 'c' });
      env.open.push(a, c);
      const cids = await enqueue(store, 50);
      const fields = ['state', 'attempt', 'readyAt', 'group', 'partition', 'submission'] as const;
      const before = await store.records.peek(cids, [...fields]);
      clock.advance(5);
      const creates = env.emu.inspect.createCalls();

      const refused = await a.runFlushOnce();
      expect(refused.batches).toEqual([]);
      expect(refused.released).toBe(50);
      expect(refused.stopped).toBe('backoff');
      expect(env.emu.inspect.createCalls()).toBe(creates + 1);
      expect(env.emu.inspect.stats().processingQueue.refusals).toBeGreaterThanOrEqual(1);
      const after = await store.records.peek(cids, [...fields]);
      expect(after.map((r) => ({ ...r, submission: '' }))).toEqual(
        before.map((r) => ({ ...r, submission: '' })),
      );
      expect(after.every((r) => r?.state === 'queued')).toBe(true);
      expect((await store.pending.overview(clock.now())).total).toBe(50);

      // Twenty ticks on both replicas within the retry-after: no create at all.
      for (let i = 0; i < 10; i++) {
        clock.advance(2_000);
        for (const r of await Promise.all([a.runFlushOnce(), c.runFlushOnce()])) {
          expect(r.skipped).toBeDefined();
        }
      }
      expect(env.emu.inspect.createCalls()).toBe(creates + 1);
      const backoff = await store.backoff.read();
      expect(backoff.failures).toBe(1);
      expect(backoff.until).toBeGreaterThanOrEqual(clock.now() - 20_000 + 40_000); // retry-after 60 s won

      // Past it, one create again; still refused, so the backoff doubles (60 s base → 60 s, then 60 s vs 60 s).
      clock.advance(41_000);
      await Promise.all([a.runFlushOnce(), c.runFlushOnce()]);
      expect(env.emu.inspect.createCalls()).toBe(creates + 2);
      expect((await store.backoff.read()).failures).toBe(2);

      // The queue frees up: the next flush after the backoff submits, and the backoff ends.
      env.emu.control.setProcessingQueue({ maxRequests: 1_000 });
      clock.advance(61_000);
      const ok = await a.runFlushOnce();
      expect(submitted(ok)).toBe(50);
      expect((await store.backoff.read()).failures).toBe(0);
    } finally {
      env.emu.control.setProcessingQueue(null);
    }
  });
});
