import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker } from '@nightshift/producer';
import { createRedis, Store } from '@nightshift/store';
import { silentLogger, useRedis, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';

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
    const client = new Anthropic({ apiKey: 'k', baseURL: emu.url, maxRetries: 0 });
    const store = new Store(fx.redis, prefix);
    const producer = createProducer({ connection: fx.redis, prefix, logger: silentLogger });
    const batcher = await startBatcher({
      connection: fx.redis,
      prefix,
      client,
      runWorker: false,
      logger: silentLogger,
    });
    const collector = await startCollector({
      connection: fx.redis,
      prefix,
      client,
      pollMs: 100,
      maxPollMs: 200,
      logger: silentLogger,
    });
    const seen = new Set<string>();
    const worker = createResultWorker({
      connection: fx.redis,
      prefix,
      logger: silentLogger,
      handler: async (r) => void seen.add(r.customId),
    });
    try {
      const docs = Array.from({ length: 20 }, (_, i) => ({
        feature: 'classify',
        key: `doc-${i}`,
        params: {
          model: 'claude-haiku-4-5',
          max_tokens: 8,
          messages: [{ role: 'user' as const, content: `doc ${i}` }],
        },
      }));
      await producer.enqueueMany(docs);
      const refusal = emu.control.injectFault({
        endpoint: 'create',
        kind: 'status',
        status: 400,
        errorCode: 'workspace_human_review_disabled',
        message: 'Human Review is turned off for this workspace.',
        times: 1000,
      });
      const creates = emu.inspect.createCalls();
      for (let i = 0; i < 3; i++) await batcher.runFlushOnce('manual');
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
      const r = await batcher.runFlushOnce('manual');
      expect(r.batches.map((b) => b.requestCount)).toEqual([20]);
      await waitFor(() => seen.size === 20, { what: 'every result delivered', timeoutMs: 20_000 });
      expect((await store.stats.all()).dead ?? 0).toBe(0);
      expect(await store.alerts.list()).toEqual([]);
    } finally {
      await worker.close();
      await collector.close();
      await batcher.close();
      await producer.close();
    }
  });
});
