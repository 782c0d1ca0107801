import { openQueue } from '@nightshift/store';
import { uniquePrefix, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import type { Batcher, FlushReport } from '../src/index.js';
import { batcherFor, enqueue, storeFor, useEnv } from './helpers.js';

const env = useEnv();

const startThree = (prefix: string) =>
  Promise.all(
    ['a', 'b', 'c'].map((instance) =>
      batcherFor(env, prefix, {
        instance,
        runWorker: true,
        tickMs: 100,
        maxWaitMs: 1,
        maxRequests: 150,
        claimChunk: 40,
      }),
    ),
  );

describe('three batcher processes on one prefix', () => {
  it('keep one scheduler, never overlap flushes, and put every request in exactly one batch', async () => {
    const prefix = uniquePrefix();
    const store = storeFor(env, prefix);
    const since = env.emu.inspect.batches().length;
    const flushQueue = openQueue('flush', env.redis, prefix);
    let batchers: Batcher[] = await startThree(prefix);
    expect(await flushQueue.getJobSchedulersCount()).toBe(1);

    const ran: FlushReport[] = [];
    let busy = 0;
    const listen = (bs: Batcher[]) => {
      for (const b of bs) {
        b.on('flush:done', (r) => {
          if (!r.skipped) ran.push(r);
          else if (r.skipped === 'busy') busy++;
        });
      }
    };
    listen(batchers);
    // Requests keep arriving while the schedulers tick and every process also flushes directly.
    const cids: string[] = [];
    for (let wave = 0; wave < 5; wave++) {
      cids.push(...(await enqueue(store, 200, {}, `w${wave}`)));
      await Promise.all(batchers.map((b) => b.runFlushOnce('direct')));
    }
    await waitFor(async () => (await store.pending.overview()).total === 0 && ran.length > 5, {
      what: 'every request to be submitted',
    });
    await Promise.all(batchers.map((b) => b.close()));

    // Restarting all three still leaves one scheduler.
    batchers = await startThree(prefix);
    expect(await flushQueue.getJobSchedulersCount()).toBe(1);
    listen(batchers);
    await Promise.all(batchers.map((b) => b.runFlushOnce('direct')));
    await Promise.all(batchers.map((b) => b.close()));
    await flushQueue.close();

    expect(busy).toBeGreaterThan(0); // they did contend for the flush lock
    const sorted = [...ran].sort((x, y) => x.startedAt - y.startedAt);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i]!.startedAt).toBeGreaterThanOrEqual(sorted[i - 1]!.endedAt);
    }
    const sent = env.emu.inspect
      .batches()
      .slice(since)
      .flatMap((b) => env.emu.inspect.requests(b.id).map((r) => r.custom_id));
    expect(sent.length).toBe(cids.length); // no request in two batches
    expect(new Set(sent)).toEqual(new Set(cids)); // none left behind
    for (const b of env.emu.inspect.batches().slice(since)) {
      expect(b.request_counts.processing + b.request_counts.succeeded).toBeLessThanOrEqual(150);
    }
    expect(await store.submissions.openIds()).toEqual([]);
  });
});
