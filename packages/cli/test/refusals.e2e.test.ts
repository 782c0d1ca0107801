import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createRedis, Store } from '@nightshift/store';
import { classifyRequest, useRedis, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';
import { startPipeline } from './pipeline.js';

// The whole pipeline through an account refusal: the service enqueues, the API refuses the account
// on create, the operator sees it in `nightshift status`, fixes it and runs `nightshift circuit
// close`; every request is then delivered once and none was dead-lettered.

const fx = useRedis((url) => createRedis({ url: url }, 'worker'));
let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
});
afterAll(async () => {
  await emu.close();
});

const cli = async (args: string[], prefix: string) =>
  (await runCliCaptured(args, { REDIS_URL: fx.url, NIGHTSHIFT_PREFIX: prefix })).out;

describe('an account refusal, end to end', () => {
  it('stops submitting without losing a request, and resumes once the operator closes the circuit', async () => {
    const prefix = 'refusal-e2e';
    const store = new Store(fx.redis, prefix);
    const run = await startPipeline({
      connection: fx.redis,
      prefix,
      emuUrl: emu.url,
      batcher: { runWorker: false },
      collector: { pollMs: 100, maxPollMs: 200 },
    });
    try {
      await run.producer.enqueueMany(Array.from({ length: 20 }, (_, i) => classifyRequest(`doc-${i}`)));
      const refusal = emu.control.injectFault({
        endpoint: 'create',
        kind: 'status',
        status: 400,
        errorCode: 'workspace_human_review_disabled',
        message: 'Human Review is turned off for this workspace.',
        times: 1000,
      });
      const creates = emu.inspect.createCalls();
      for (let i = 0; i < 3; i++) await run.batcher.runFlushOnce('manual');
      expect(emu.inspect.createCalls()).toBe(creates + 1);
      expect(refusal.hits()).toBe(1);

      const status = await cli(['status'], prefix);
      expect(status).toContain('Queued requests: 20');
      expect(status).toContain(
        'Circuit: OPEN (the API refuses the account: workspace_human_review_disabled)',
      );
      expect(status).toContain('Fix: The key’s workspace has Human Review turned off');
      expect(await cli(['dead-letters'], prefix)).not.toContain('doc-');

      refusal.remove();
      expect(await cli(['circuit', 'close'], prefix)).toContain('Circuit closed');
      const r = await run.batcher.runFlushOnce('manual');
      expect(r.batches.map((b) => b.requestCount)).toEqual([20]);
      await waitFor(() => run.delivered.size === 20, { what: 'every result delivered', timeoutMs: 20_000 });
      expect((await store.stats.all()).dead ?? 0).toBe(0);
      expect(await store.alerts.list()).toEqual([]);
    } finally {
      await run.close();
    }
  });
});
