import Anthropic from '@anthropic-ai/sdk';
import type { DeadLetterPayload } from '@nightshift/shared';
import { createRedis } from '@nightshift/store';
import { useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { defaultParams, withWorld } from './helpers.js';

// Refusals the collector meets: coded errors in result lines, a refused retrieve or results call,
// and a refused real-time call; plus what results cost when the API ran them US-only.

const fx = useRedis((url) => createRedis({ url: url }));

describe('errored result lines with an error_code', () => {
  it('an account code holds its requests (no attempt, no dead letter) and opens the circuit once', async () => {
    await withWorld(fx.redis, async (w) => {
      const held = ['h-1', 'h-2', 'h-3'];
      w.emu.control.injectOutcome({
        match: /^h-/,
        outcome: 'errored',
        errorType: 'invalid_request_error',
        errorCode: 'organization_on_hold',
        message: 'This organization has been disabled.',
      });
      w.emu.control.injectOutcome({
        match: /^img$/,
        outcome: 'errored',
        errorType: 'invalid_request_error',
        errorCode: 'image_dimensions_too_large',
        message: 'Image too large.',
      });
      const { batch } = await w.seed({ cids: [...held, 'img', 'ok'] });
      await w.collector();
      await w.waitCollected(batch.id);
      for (const cid of held) {
        expect(await w.store.records.get(cid), cid).toMatchObject({ state: 'queued', attempt: '1' });
        expect(JSON.parse((await w.store.records.get(cid))!.lastError)).toMatchObject({
          code: 'organization_on_hold',
        });
        expect(await w.store.records.status(cid)).toMatchObject({
          history: [{ outcome: 'errored', errorCode: 'organization_on_hold' }],
        });
      }
      expect(await w.store.circuit.state()).toMatchObject({
        open: true,
        kind: 'account',
        code: 'organization_on_hold',
        opens: 1,
      });
      const alerts = await w.store.alerts.list();
      expect(alerts.map((a) => a.code)).toEqual(['circuit-open']);
      expect(alerts[0]!.message).toMatch(/organization_on_hold.*trust and safety/);
      // The content code is about that request: dead at once, with the code kept.
      const dead = await w.deadJobs();
      expect(dead.map((j) => j.id)).toEqual(['dead-img-1']);
      expect((dead[0]!.data as DeadLetterPayload).lastError).toEqual({
        type: 'invalid_request_error',
        message: 'Image too large.',
        code: 'image_dimensions_too_large',
      });
      expect((await w.store.records.status('ok')).state).toBe('succeeded');
    });
  });
});

describe('a refused retrieve or results call', () => {
  it('400 organization_on_hold on retrieve opens the circuit; the batch is collected once it lifts', async () => {
    await withWorld(fx.redis, async (w) => {
      const check = w.emu.control.injectFault({
        endpoint: 'retrieve',
        kind: 'status',
        status: 400,
        errorCode: 'organization_on_hold',
        times: 1,
      });
      const err = await w.client.messages.batches.retrieve('msgbatch_x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.OrganizationOnHoldError);
      expect(check.hits()).toBe(1);
      const { batch } = await w.seed({ cids: ['a', 'b'] });
      const fault = w.emu.control.injectFault({
        endpoint: 'retrieve',
        kind: 'status',
        status: 400,
        errorCode: 'organization_on_hold',
        times: 3,
      });
      await w.collector();
      await waitFor(async () => (await w.store.circuit.state()).open, { what: 'circuit open' });
      expect(await w.store.circuit.state()).toMatchObject({ kind: 'account', code: 'organization_on_hold' });
      await w.waitCollected(batch.id);
      expect(fault.hits()).toBe(3);
      expect(await w.deadJobs()).toEqual([]);
      expect((await w.store.records.status('a')).state).toBe('succeeded');
    });
  });

  it('402 on results opens the billing circuit and the stream is read again later', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch } = await w.seed({ cids: ['c', 'd'] });
      w.emu.control.injectFault({ endpoint: 'results', kind: 'status', status: 402, times: 2 });
      await w.collector();
      await w.waitCollected(batch.id);
      expect(await w.store.circuit.state()).toMatchObject({
        open: true,
        kind: 'billing',
        code: 'billing_error',
      });
      expect((await w.delivered()).map((r) => r.customId).sort()).toEqual(['c', 'd']);
    });
  });
});

describe('a refused real-time call', () => {
  it('keeps the request real-time, stops submissions, waits the cooldown, then one probe call resumes', async () => {
    await withWorld(fx.redis, async (w) => {
      let now = Date.now();
      const params = JSON.stringify(defaultParams('rt'));
      const rt = ['rt-1', 'rt-2', 'rt-3'].map((cid) => ({
        cid,
        feature: 'urgent',
        model: 'claude-haiku-4-5',
        params,
        phash: `h-${cid}`,
        meta: '',
        deadline: null,
        partition: 'default',
        group: 'g-rt',
        bytes: params.length,
        realtimeAllowed: true,
        state: 'realtime' as const,
      }));
      await w.store.records.enqueue(rt, { now: now - 10_000 });
      const fault = { status: 403, errorCode: 'sandbox_egress_restricted' } as const;
      const check = w.emu.control.injectFault({ endpoint: 'messages', kind: 'status', ...fault, times: 1 });
      const err = await w.client.messages.create(defaultParams('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.SandboxEgressRestrictedError);
      check.remove();
      w.emu.control.injectFault({ endpoint: 'messages', kind: 'status', ...fault, times: 3 });
      const c = await w.collector({
        runWorker: false,
        realtimeStaleMs: 1,
        circuitCooldownMs: 60_000,
        now: () => now,
      });
      const calls = () => w.emu.inspect.stats().calls.messages;
      await c.sweepNow();
      // All three calls (made at once) are refused: none is dead, all stay real-time, one circuit.
      expect(await w.deadJobs()).toEqual([]);
      for (const r of rt) expect((await w.store.records.status(r.cid)).state).toBe('realtime');
      expect(await w.store.circuit.state()).toMatchObject({
        open: true,
        kind: 'account',
        code: 'sandbox_egress_restricted',
        opens: 1,
      });
      // While the circuit cools down the sweep does not call.
      const before = calls();
      now += 30_000;
      await c.sweepNow();
      expect(calls()).toBe(before);
      // Due: one call is the probe; answered, it closes the circuit; the next sweep calls the rest.
      now += 31_000;
      await c.sweepNow();
      expect(calls()).toBe(before + 1);
      expect((await w.store.circuit.state()).open).toBe(false);
      now += 1_000;
      await c.sweepNow();
      expect(calls()).toBe(before + 3);
      for (const r of rt) expect((await w.store.records.status(r.cid)).state).toBe('succeeded');
    });
  });
});

describe('what results cost', () => {
  it('counts US-only inference at 1.1× in the payload and the ledger, and alerts a model with no price', async () => {
    await withWorld(
      fx.redis,
      async (w) => {
        const { batch } = await w.seed({
          cids: ['us-1', 'us-2'],
          params: (cid) => ({ ...defaultParams(cid, 'claude-sonnet-4-6'), inference_geo: 'us' }),
        });
        const odd = await w.seed({ cids: ['odd-1'], model: 'claude-unpriced-9' });
        await w.collector();
        await w.waitCollected(batch.id);
        await w.waitCollected(odd.batch.id);
        const us = (await w.delivered()).find((r) => r.customId === 'us-1')!;
        expect(us.message.usage.inference_geo).toBe('us');
        expect(us.cost.usInference).toBe(true);
        expect(us.cost.cost).toBeCloseTo((us.cost.realtimeEquivalent / 1.1) * 1.1 * 0.5, 12);
        expect(us.cost.usPremium).toBeCloseTo(us.cost.cost - us.cost.cost / 1.1, 12);
        const row = (await w.store.ledger.rows()).find((r) => r.model === 'claude-sonnet-4-6')!;
        expect(row.usResults).toBe(2);
        expect(row.usPremiumNano).toBeGreaterThan(0);
        expect(await w.store.alerts.list()).toEqual([
          expect.objectContaining({ code: 'model-unpriced', model: 'claude-unpriced-9' }),
        ]);
      },
      { inferenceGeo: 'global' },
    );
  });
});
