import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker } from '@nightshift/producer';
import { createRedis, Store } from '@nightshift/store';
import { silentLogger, useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';

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
    const client = new Anthropic({ apiKey: 'k', baseURL: emu.url, maxRetries: 0 });
    const store = new Store(fx.redis, prefix);
    const producer = createProducer({ connection: fx.redis, prefix, logger: silentLogger });
    const batchers = await Promise.all(
      ['a', 'b'].map((instance) =>
        startBatcher({
          connection: fx.redis,
          prefix,
          client,
          instance,
          runWorker: true,
          tickMs: 100,
          maxWaitMs: 1,
          maxRequests: 50,
          maxInFlightRequests: CAP,
          logger: silentLogger,
        }),
      ),
    );
    const collector = await startCollector({
      connection: fx.redis,
      prefix,
      client,
      pollMs: 50,
      maxPollMs: 100,
      logger: silentLogger,
    });
    const seen = new Set<string>();
    const worker = createResultWorker({
      connection: fx.redis,
      prefix,
      logger: silentLogger,
      concurrency: 8,
      handler: async (r) => void seen.add(r.customId),
    });
    const held: number[] = [];
    for (const b of batchers) b.on('flush:done', (r) => r.admission && held.push(r.admission.held));
    try {
      // Two partitions, arriving in waves while the replicas flush.
      for (let wave = 0; wave < 6; wave++) {
        await producer.enqueueMany(
          Array.from({ length: N / 6 }, (_, i) => ({
            feature: 'classify',
            key: `w${wave}-${i}`,
            partition: i % 2 ? 'odd' : 'even',
            params: {
              model: 'claude-haiku-4-5',
              max_tokens: 8,
              messages: [{ role: 'user' as const, content: `doc ${wave}-${i}` }],
            },
          })),
        );
      }
      await waitFor(() => seen.size === N, { what: 'every result delivered', timeoutMs: 60_000 });
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
      await worker.close();
      await collector.close();
      await Promise.all(batchers.map((b) => b.close()));
      await producer.close();
      await emu.close();
    }
  });
});
