import { startEmulator } from '@nightshift/emulator';
import { createRedis, Store } from '@nightshift/store';
import { classifyRequest, useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { startPipeline } from './pipeline.js';

// Admission end to end: two batcher replicas and a collector against an emulator whose processing
// queue holds CAP requests, as a workspace's does. The emulator refuses (429) any create that would
// pass its cap and records the most requests its queue ever held: both must show that the
// batchers' shared cap held while every request went through.

const fx = useRedis((url) => createRedis({ url }, 'worker'));
const CAP = 120;
const N = 600;

describe('an in-flight cap of N, two batcher replicas, batches that take time', () => {
  it('never has more than N requests in the API’s processing queue, and delivers every request', async () => {
    const prefix = 'admission-e2e';
    // The first wave's batches stay in the queue until the test ends them (manual processing), so
    // that the cap is certain to be what holds requests back (not a race between enqueue waves and
    // the batches' processing); from then on each batch takes 400 ms, and the cap paces the flushes.
    const emu = await startEmulator({
      quiet: true,
      processing: 'manual',
      processingQueue: { maxRequests: CAP },
    });
    const store = new Store(fx.redis, prefix);
    const run = await startPipeline({
      connection: fx.redis,
      prefix,
      emuUrl: emu.url,
      instances: ['a', 'b'],
      batcher: { runWorker: true, tickMs: 100, maxWaitMs: 1, maxRequests: 50, maxInFlightRequests: CAP },
      collector: { pollMs: 50, maxPollMs: 100 },
      workerConcurrency: 8,
    });
    const held: number[] = [];
    for (const b of run.batchers) b.on('flush:done', (r) => r.admission && held.push(r.admission.held));
    const wave = (w: number, n: number) =>
      run.producer.enqueueMany(
        Array.from({ length: n }, (_, i) =>
          classifyRequest(`w${w}-${i}`, { partition: i % 2 ? 'odd' : 'even' }),
        ),
      );
    try {
      // A first wave of twice the cap, in two partitions: while its batches stay in the queue, the
      // replicas fill the room and then hold the rest back.
      const FIRST = 2 * CAP;
      await wave(0, FIRST);
      await waitFor(() => held.some((h) => h > 0) && emu.inspect.stats().processingQueue.peakRequests > 50, {
        what: 'the room filled by more than one batch, and a flush holding requests back',
        timeoutMs: 30_000,
      });
      emu.control.setProcessing({ delayMs: 400 });
      emu.control.complete();
      // The rest arrives in waves while the replicas flush.
      for (let w = 1; w <= 4; w++) await wave(w, (N - FIRST) / 4);
      await waitFor(() => run.delivered.size === N, { what: 'every result delivered', timeoutMs: 60_000 });
      const q = emu.inspect.stats().processingQueue;
      expect(q.refusals).toBe(0);
      expect(q.peakRequests).toBeLessThanOrEqual(CAP);
      // The cap was what paced the run: more than one batch in the queue at once, and flushes
      // that held requests back for want of room.
      expect(q.peakRequests).toBeGreaterThan(50);
      expect(held.some((h) => h > 0)).toBe(true);
      expect(emu.inspect.batches().length).toBeGreaterThanOrEqual(N / 50);
      expect((await store.stats.all()).dead ?? 0).toBe(0);
    } finally {
      await run.close();
      await emu.close();
    }
  });
});
