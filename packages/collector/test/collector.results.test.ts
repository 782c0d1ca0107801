import type { DeadLetterPayload, ResultJobData, ResultPayload } from '@nightshift/shared';
import { createRedis, WebhookEndpoints } from '@nightshift/store';
import { useRedis } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import type { CollectorEvents } from '../src/index.js';
import { capturingLogger, defaultParams, emulator, World, withWorld } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));

const RETRYABLE = ['api_error', 'overloaded_error', 'rate_limit_error', 'timeout_error', 'mystery_error'];
const FATAL = ['invalid_request_error', 'permission_error', 'not_found_error', 'request_too_large'];

describe('when a batch ends with every kind of result', () => {
  it('delivers, requeues, dead-letters, holds and counts each line by its type', async () => {
    await withWorld(fx.redis, async (w) => {
      const T = Date.now();
      const { logger, lines } = capturingLogger();
      const ok = ['ok-1', 'ok-2'];
      const retry = RETRYABLE.map((t) => `r-${t}`);
      const fatal = FATAL.map((t) => `f-${t}`);
      const cids = [...ok, ...retry, ...fatal, 'bill-1', 'auth-1', 'exp-1', 'can-1', 'miss-1'];
      const held: Record<string, string> = { billing_error: 'bill-1', authentication_error: 'auth-1' };
      for (const t of [...RETRYABLE, ...FATAL, ...Object.keys(held)]) {
        const id = held[t] ?? (RETRYABLE.includes(t) ? `r-${t}` : `f-${t}`);
        w.emu.control.injectOutcome({
          match: new RegExp(`^${id}$`),
          outcome: 'errored',
          errorType: t,
          message: `msg ${t}`,
        });
      }
      w.emu.control.injectOutcome({ match: /^exp-1$/, outcome: 'expired' });
      w.emu.control.injectOutcome({ match: /^can-1$/, outcome: 'canceled' });
      const apiCids = [...cids.filter((c) => c !== 'miss-1'), 'alien-1'];
      const { batch, subId } = await w.seed({
        cids,
        apiCids,
        meta: (cid) => ({ doc: cid }),
        params: (cid) => defaultParams(cid),
      });

      const c = await w.collector({ now: () => T, logger });
      const seen = { requeued: 0, dead: 0, ended: 0, applied: [] as CollectorEvents['results:applied'][0][] };
      c.on('item:requeued', () => seen.requeued++);
      c.on('item:dead', () => seen.dead++);
      c.on('batch:ended', () => seen.ended++);
      c.on('results:applied', (e) => seen.applied.push(e));
      const done = await w.waitCollected(batch.id);
      expect(done.state).toBe('collected');
      expect(await w.store.batches.inflightIds()).toEqual([]);

      // succeeded: delivered once each, in one result job of the batch, with the full payload, and
      // one usage line each.
      const results = await w.delivered();
      expect(results.map((r) => r.customId).sort()).toEqual(['ok-1', 'ok-2']);
      expect(new Set(results.map((r) => r.jobId)).size).toBe(1);
      expect(results[0]!.jobId).toMatch(new RegExp(`^res-${batch.id}-[0-9a-f]{24}$`));
      expect((await w.resultJobs()).map((j) => j.name)).toEqual(['classify']);
      const payload: ResultPayload = results.find((r) => r.customId === 'ok-1')!;
      expect(payload).toMatchObject({
        customId: 'ok-1',
        feature: 'classify',
        metadata: { doc: 'ok-1' },
        model: 'claude-haiku-4-5',
        batchId: batch.id,
        attempt: 1,
        mode: 'batch',
      });
      expect(payload.message.usage.service_tier).toBe('batch');
      expect(payload.cost.cost).toBeCloseTo(payload.cost.realtimeEquivalent / 2, 12);
      expect((await w.store.records.status('ok-1')).state).toBe('succeeded');
      const usage = lines.filter((l) => l.event === 'usage');
      expect(usage).toHaveLength(2);
      expect(usage[0]).toMatchObject({ feature: 'classify', model: 'claude-haiku-4-5', batch: true });
      expect(Object.keys(usage[0]!).sort()).toEqual(
        [
          'event',
          'feature',
          'model',
          'batch',
          'inputTokens',
          'cacheWrite5m',
          'cacheWrite1h',
          'cacheRead',
          'outputTokens',
          'costUsd',
          'realtimeEquivalentUsd',
        ].sort(),
      );

      // retryable errors (and unknown types), expired, canceled and missing: attempt + 1, backoff.
      for (const cid of [...retry, 'exp-1', 'can-1', 'miss-1']) {
        const rec = await w.store.records.get(cid);
        expect(rec, cid).toMatchObject({
          state: 'queued',
          attempt: '2',
          readyAt: String(T + 60_000),
          submission: '',
        });
      }
      const apiErr = await w.store.records.status('r-api_error');
      expect(apiErr).toMatchObject({
        state: 'retrying',
        lastError: { type: 'api_error', message: 'msg api_error' },
        history: [{ attempt: 1, batchId: batch.id, outcome: 'errored', errorType: 'api_error' }],
      });
      const firstOutcome = async (cid: string) =>
        JSON.parse((await w.store.records.get(cid))!.history)[0].outcome;
      expect(await firstOutcome('exp-1')).toBe('expired');
      expect(await firstOutcome('can-1')).toBe('canceled');
      expect(await firstOutcome('miss-1')).toBe('missing');

      // not retryable: dead at once with the API's message; one dead-letter job each.
      const dead = await w.deadJobs();
      expect(dead.map((j) => j.id).sort()).toEqual(fatal.map((c) => `dead-${c}-1`).sort());
      const dl = dead.find((j) => j.id === 'dead-f-invalid_request_error-1')!.data as DeadLetterPayload;
      expect(dl).toMatchObject({
        customId: 'f-invalid_request_error',
        reason: 'invalid_request_error',
        lastError: { type: 'invalid_request_error', message: 'msg invalid_request_error' },
        batchId: batch.id,
        metadata: { doc: 'f-invalid_request_error' },
        params: defaultParams('f-invalid_request_error'),
      });
      expect(dl.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'errored' })]);
      for (const cid of fatal) expect((await w.store.records.status(cid)).state).toBe('dead');

      // billing and a refused key: kept without spending an attempt; one circuit (billing wins), one alert.
      expect(await w.store.records.get('bill-1')).toMatchObject({ state: 'queued', attempt: '1' });
      expect(await w.store.records.get('auth-1')).toMatchObject({ state: 'queued', attempt: '1' });
      expect(await w.store.circuit.state()).toMatchObject({
        open: true,
        kind: 'billing',
        code: 'billing_error',
      });
      const codes = (await w.store.alerts.list()).map((a) => a.code);
      expect(codes.sort()).toEqual(['circuit-open', 'unknown-custom-ids']);

      // a custom_id that is not ours is counted, never fatal.
      const stats = await w.store.stats.all();
      expect(stats.unknown_custom_ids).toBe(1);
      expect(stats.succeeded).toBe(2);
      expect(stats.dead).toBe(FATAL.length);

      const counts = seen.applied[0]!.counts;
      expect(counts).toMatchObject({
        lines: cids.length,
        succeeded: 3, // ok-1, ok-2 and the alien line
        errored: RETRYABLE.length + FATAL.length + 2,
        expired: 1,
        canceled: 1,
        unknown: 1,
        delivered: 2,
        requeued: RETRYABLE.length + 3,
        held: 2,
        dead: FATAL.length,
        missing: 1,
      });
      expect(seen.ended).toBe(1);
      expect(seen.dead).toBe(FATAL.length);
      expect(seen.requeued).toBe(RETRYABLE.length + 5);
      expect(JSON.parse((await w.store.batches.get(batch.id))!.counts)).toMatchObject({ delivered: 2 });
      expect(subId).toBeTruthy();
    });
  });
});

describe('how results are packed into {results} jobs', () => {
  it('puts resultsPerJob results in a job, each delivered once, and refuses a bad resultsPerJob', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch, cids } = await w.seedMany(250, 'pack-');
      await w.collector({ resultsPerJob: 100, chunkSize: 500 });
      await w.waitCollected(batch.id);
      const sizes = (await w.resultJobs()).map((j) => (j.data as ResultJobData).results.length);
      expect(sizes.sort((a, b) => a - b)).toEqual([50, 100, 100]);
      const delivered = await w.delivered();
      expect(delivered.map((r) => r.customId).sort()).toEqual([...cids].sort());
      // Every record names the job that carries it.
      const recs = await w.store.records.peekMany(cids, ['delivery']);
      const byId = new Map(delivered.map((r) => [r.customId, r.jobId]));
      expect(recs.every((r, i) => r?.delivery === byId.get(cids[i]!))).toBe(true);

      for (const bad of [0, 1.5, 1_001]) {
        await expect(w.collector({ resultsPerJob: bad })).rejects.toThrow(
          /resultsPerJob: must be (a positive number|a whole number from 1 to 1,000)/,
        );
      }
    });
  });
});

describe('a collector that collects many batches', () => {
  it('leaves no abort listeners piling up on its own signal (no MaxListenersExceededWarning)', async () => {
    const emu = await emulator();
    const w = new World(fx.redis, emu);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const batches = [];
      for (let i = 0; i < 14; i++)
        batches.push((await w.seed({ cids: [`many-${i}-a`, `many-${i}-b`] })).batch);
      await w.collector();
      for (const b of batches) await w.waitCollected(b.id);
      expect((await w.delivered()).length).toBe(28);
      await new Promise((r) => setTimeout(r, 50)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      // Many batches at once are many calls in flight on that signal, which is no leak either.
      warnings.length = 0;
      const more = [];
      for (let i = 0; i < 14; i++) more.push((await w.seed({ cids: [`wide-${i}`] })).batch);
      await w.collector({ concurrency: 14 });
      for (const b of more) await w.waitCollected(b.id);
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await w.close();
      await emu.close();
    }
  });
});

describe('when a result job is added', () => {
  it('is removed once completed, unless an endpoint subscribes to request.succeeded (kept a day)', async () => {
    await withWorld(fx.redis, async (w) => {
      const first = await w.seedMany(2, 'plain-');
      const c = await w.collector();
      await w.expectAllSucceeded(first.batch.id, 2);
      expect((await w.resultJobs()).map((j) => j.opts.removeOnComplete)).toEqual([true]);
      await c.close();

      // The webhook's text is read from the job: while an endpoint wants it, the job stays a day.
      await new WebhookEndpoints(w.store).register({
        name: 'svc',
        url: 'https://example.com/hook',
        events: ['request.succeeded'],
      });
      const second = await w.seedMany(2, 'hooked-', { subId: 's2' });
      await w.collector();
      expect((await w.waitCollected(second.batch.id)).state).toBe('collected');
      const kept = (await w.resultJobs()).filter((j) =>
        (j.data as ResultJobData).results.some((r) => r.customId.startsWith('hooked-')),
      );
      expect(kept.map((j) => j.opts.removeOnComplete)).toEqual([{ age: 86_400 }]);
    });
  });
});
