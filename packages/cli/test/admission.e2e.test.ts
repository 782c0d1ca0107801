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
    // Each batch takes 400 ms of processing: the cap, not the API's speed, paces the flushes.
    const emu = await startEmulator({
      quiet: true,
      processing: { delayMs: 400 },
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
    try {
      // Two partitions, arriving in waves while the replicas flush.
      for (let wave = 0; wave < 6; wave++) {
        await run.producer.enqueueMany(
          Array.from({ length: N / 6 }, (_, i) =>
            classifyRequest(`w${wave}-${i}`, { partition: i % 2 ? 'odd' : 'even' }),
          ),
        );
      }
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
