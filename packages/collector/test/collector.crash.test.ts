import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { createRedis } from '@nightshift/store';
import { sourceNodeArgs, useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { emulator, World, withWorld } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));

const fixture = fileURLToPath(new URL('./fixtures/collector-process.ts', import.meta.url));

function spawnCollector(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, sourceNodeArgs(fixture), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`collector child exited early (${code})`)));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
  });
}

describe('when a collector is killed (kill -9) in the middle of a results stream', () => {
  it('a fresh collector applies the rest, and nothing twice', async () => {
    const emu = await emulator({ recordRequests: false });
    const w = new World(fx.redis, emu);
    let child: ChildProcess | undefined;
    try {
      const N = 6_000;
      // Every 20th request errors (retryable): it must be requeued exactly once.
      const cids = Array.from({ length: N }, (_, i) => (i % 20 === 0 ? `k${i}-r` : `k${i}`));
      emu.control.injectOutcome({ match: /-r$/, outcome: 'errored', errorType: 'api_error' });
      const { batch } = await w.seed({ cids });
      const expectOk = N - N / 20;

      child = await spawnCollector({
        REDIS_URL: fx.url,
        EMU_URL: emu.url,
        PREFIX: w.prefix,
        CHUNK: '50',
        LOCK_MS: '1000',
      });
      const applied = async () => (await w.store.stats.all()).succeeded ?? 0;
      await waitFor(async () => (await applied()) >= 600, { timeoutMs: 60_000, what: 'partial apply' });
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      child = undefined;
      const atKill = await applied();
      expect(atKill).toBeLessThan(expectOk); // really mid-stream

      // The killed collector's job is still locked; the new one takes it over once the lock expires.
      await w.collector({ lockDurationMs: 1000, chunkSize: 500 });
      const done = await w.waitCollected(batch.id, 60_000);
      expect(done.state).toBe('collected');

      expect((await w.delivered()).length).toBe(expectOk);
      const ledger = await w.store.ledger.rows();
      expect(ledger.reduce((n, r) => n + r.results, 0)).toBe(expectOk);
      const stats = await w.store.stats.all();
      expect(stats.succeeded).toBe(expectOk);
      expect(stats.requeued).toBe(N / 20);
      expect(stats.dead ?? 0).toBe(0);
      for (const cid of cids.filter((c) => c.endsWith('-r')).slice(0, 50)) {
        const rec = (await w.store.records.get(cid))!;
        expect(rec.attempt, cid).toBe('2');
        expect(JSON.parse(rec.history), cid).toHaveLength(1);
      }
      expect(emu.inspect.stats().resultStreams).toBeGreaterThanOrEqual(2);
    } finally {
      child?.kill('SIGKILL');
      await w.close();
      await emu.close();
    }
  }, 120_000);
});

describe('when the results connection drops mid-stream', () => {
  it('re-streams and applies every result exactly once', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch } = await w.seedMany(300, 'd');
      w.emu.control.injectFault({ endpoint: 'results', kind: 'drop-stream', afterLines: 120 });
      await w.collector({ chunkSize: 50 });
      await w.expectAllSucceeded(batch.id, 300);
      expect(w.emu.inspect.stats().resultStreams).toBe(2);
      const job = await w.batches.getJob(`batch-${batch.id}`);
      expect(job?.data.transient).toBeGreaterThanOrEqual(1);
    });
  });
});

describe('when a collector is closed in the middle of a results stream', () => {
  it('stops at a chunk boundary and hands the batch back at once for another collector', async () => {
    await withWorld(
      fx.redis,
      async (w) => {
        const { batch } = await w.seedMany(3000, 'c');
        // A long lock: the batch can only move on quickly if close() really hands it back.
        const first = await w.collector({ chunkSize: 50, lockDurationMs: 120_000 });
        await waitFor(async () => ((await w.store.stats.all()).succeeded ?? 0) >= 300, { timeoutMs: 60_000 });
        await first.close();
        const state = await w.batches.getJobState(`batch-${batch.id}`);
        expect(['delayed', 'waiting', 'prioritized']).toContain(state);
        expect((await w.store.stats.all()).succeeded).toBeLessThan(3000);
        await w.collector({ chunkSize: 500, lockDurationMs: 120_000 });
        await w.expectAllSucceeded(batch.id, 3000, 60_000);
      },
      { recordRequests: false },
    );
  }, 90_000);
});

describe('nightshift-collector (bin)', () => {
  it('starts from the environment, collects, and exits 0 on SIGTERM', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch } = await w.seed({ cids: ['bin-1', 'bin-2'] });
      const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
      const child = spawn(process.execPath, sourceNodeArgs(bin), {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: fx.url,
          NIGHTSHIFT_PREFIX: w.prefix,
          NIGHTSHIFT_POLL_MS: '200',
          NIGHTSHIFT_LOG_LEVEL: 'silent',
          ANTHROPIC_API_KEY: 'test-key',
          ANTHROPIC_BASE_URL: w.emu.url,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await w.waitCollected(batch.id, 60_000);
      expect((await w.store.heartbeats.list()).map((h) => h.role)).toContain('collector');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await w.store.heartbeats.list()).toEqual([]);
      expect((await w.delivered()).length).toBe(2);
    });
  }, 90_000);
});

describe('when the results stream stops flowing without closing', () => {
  it('the watchdog aborts it and the batch is re-streamed', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch } = await w.seedMany(200, 'st');
      // Network fault: the first results response delivers part of its body, then hangs (until aborted).
      let stalls = 1;
      const stallingFetch: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        const url = input instanceof Request ? input.url : String(input);
        if (!url.endsWith('/results') || stalls-- <= 0) return res;
        const first = await res.body!.getReader().read();
        const bytes = first.value ?? new Uint8Array();
        const cut = bytes.lastIndexOf(10, Math.floor(bytes.length / 2)) + 1;
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes.subarray(0, cut));
            init?.signal?.addEventListener('abort', () => controller.error(new Error('aborted')));
          },
        });
        return new Response(body, { status: res.status, headers: res.headers });
      };
      const client = new Anthropic({
        apiKey: 'test-key',
        baseURL: w.emu.url,
        maxRetries: 0,
        fetch: stallingFetch,
      });
      await w.collector({ client, requestTimeoutMs: 300, chunkSize: 20 });
      await w.expectAllSucceeded(batch.id, 200);
      const job = await w.batches.getJob(`batch-${batch.id}`);
      expect(job?.data.lastError).toMatch(/stalled/);
    });
  });
});
