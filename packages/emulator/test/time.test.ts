import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from '../src/index.js';
import type { ApiError } from './helpers.js';
import { collect, expectBatchShape, req, sdk } from './helpers.js';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-11-02T09:30:00.000Z');

let emu: Emulator | undefined;
afterEach(() => emu?.close());

/** An emulator on a frozen clock (only `clock.advance/set` moves it). */
async function frozen(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ quiet: true, now: () => T0, ...opts });
  return { emu, client: sdk(emu) };
}

describe('emulator clock', () => {
  it('advance and set move the emulator clock', async () => {
    const { emu } = await frozen();
    expect(emu.clock.now()).toBe(T0);
    expect(emu.clock.advance(1500)).toBe(T0 + 1500);
    emu.clock.set(T0 + DAY);
    expect(emu.clock.now()).toBe(T0 + DAY);
  });

  it('timestamps come from the emulator clock, with microseconds, strictly increasing', async () => {
    const { client } = await frozen();
    const a = await client.messages.batches.create({ requests: [req('a')] });
    const b = await client.messages.batches.create({ requests: [req('b')] });
    expect(a.created_at).toBe('2026-11-02T09:30:00.000000Z');
    expect(a.expires_at).toBe('2026-11-03T09:30:00.000000Z');
    expect(b.created_at).toBe('2026-11-02T09:30:00.000001Z');
  });
});

describe('expiry and archival', () => {
  it('a batch still processing after 24 h ends with the rest expired, ended_at = expires_at', async () => {
    const { emu, client } = await frozen({ processing: 'manual' });
    const b = await client.messages.batches.create({
      requests: Array.from({ length: 10 }, (_, i) => req(`e${i}`)),
    });
    emu.control.process(b.id, 3);
    emu.clock.advance(DAY - 1);
    expect((await client.messages.batches.retrieve(b.id)).processing_status).toBe('in_progress');
    emu.clock.advance(1);
    const ended = await client.messages.batches.retrieve(b.id);
    expectBatchShape(ended, 'ended', { total: 10, url: emu.url });
    expect(ended.ended_at).toBe(ended.expires_at);
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 3,
      errored: 0,
      canceled: 0,
      expired: 7,
    });
    const lines = await collect(await client.messages.batches.results(b.id));
    expect(lines.filter((l) => l.result.type === 'expired')).toHaveLength(7);
    expect(lines.find((l) => l.custom_id === 'e0')!.result.type).toBe('succeeded');
  });

  it('after 29 days the batch is archived: still visible, results 404', async () => {
    const { emu, client } = await frozen();
    const b = await client.messages.batches.create({ requests: [req('a')] });
    const ended = await client.messages.batches.retrieve(b.id);
    emu.clock.advance(29 * DAY - 1);
    expect((await client.messages.batches.retrieve(b.id)).archived_at).toBeNull();
    expect(await collect(await client.messages.batches.results(b.id))).toHaveLength(1);
    emu.clock.advance(1);
    const archived = await client.messages.batches.retrieve(b.id);
    expectBatchShape(archived, 'ended', { total: 1, url: emu.url, archived: true });
    expect(archived.archived_at).toBe('2026-12-01T09:30:00.000000Z');
    expect(archived.results_url).toBe(ended.results_url); // kept as is
    const err = (await client.messages.batches.results(b.id).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.type).toBe('not_found_error');
    expect((await client.messages.batches.list()).data.map((x) => x.id)).toContain(b.id);
    await client.messages.batches.delete(b.id);
  });
});

describe('processing modes', () => {
  it('{ delayMs } processes linearly over emulator time', async () => {
    const { emu, client } = await frozen({ processing: { delayMs: 10_000 } });
    const b = await client.messages.batches.create({
      requests: Array.from({ length: 10 }, (_, i) => req(`d${i}`)),
    });
    emu.clock.advance(4_999);
    const mid = await client.messages.batches.retrieve(b.id);
    expectBatchShape(mid, 'in_progress', { total: 10, url: emu.url });
    const outcomes = emu.inspect.requests(b.id).map((r) => r.outcome);
    expect(outcomes.filter((o) => o === 'succeeded')).toHaveLength(4);
    expect(outcomes.slice(0, 4)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);

    // cancel now: the 4 processed keep their outcome, the rest is canceled on the next retrieve
    await client.messages.batches.cancel(b.id);
    emu.clock.advance(60_000);
    const ended = await client.messages.batches.retrieve(b.id);
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 4,
      errored: 0,
      canceled: 6,
      expired: 0,
    });

    const full = await client.messages.batches.create({ requests: [req('x'), req('y')] });
    emu.clock.advance(10_000);
    const done = await client.messages.batches.retrieve(full.id);
    expect(done.processing_status).toBe('ended');
    expect(Date.parse(done.ended_at!) - Date.parse(done.created_at)).toBe(10_000);
  });

  it("'manual' waits for control.process / control.complete; setProcessing affects new batches", async () => {
    const { emu, client } = await frozen({ processing: 'manual' });
    const a = await client.messages.batches.create({ requests: [req('a1'), req('a2'), req('a3')] });
    const b = await client.messages.batches.create({ requests: [req('b1')] });
    emu.control.setProcessing('instant');
    const c = await client.messages.batches.create({ requests: [req('c1')] });
    expect((await client.messages.batches.retrieve(c.id)).processing_status).toBe('ended');
    expect((await client.messages.batches.retrieve(a.id)).processing_status).toBe('in_progress');
    expect(emu.control.process(a.id, 1).processing_status).toBe('in_progress');
    expect(emu.control.process(a.id).processing_status).toBe('ended');
    expect(emu.inspect.batch(b.id)!.processing_status).toBe('in_progress');
    const completed = emu.control.complete();
    expect(completed.map((x) => x.id)).toEqual([b.id]);
    expect((await client.messages.batches.retrieve(b.id)).request_counts.succeeded).toBe(1);
    expect(() => emu.control.process('msgbatch_unknown')).toThrow(/unknown batch/);
  });

  it('cancelAsOperator makes a batch canceling without a client call', async () => {
    const { emu, client } = await frozen({ processing: 'manual' });
    const b = await client.messages.batches.create({ requests: [req('o1'), req('o2')] });
    emu.control.process(b.id, 1);
    expect(emu.control.cancelAsOperator(b.id).processing_status).toBe('canceling');
    emu.clock.advance(1000);
    const seen = await client.messages.batches.retrieve(b.id);
    expectBatchShape(seen, 'ended', { total: 2, url: emu.url, canceled: true });
    expect(seen.request_counts).toEqual({ processing: 0, succeeded: 1, errored: 0, canceled: 1, expired: 0 });
    expect(() => emu.control.cancelAsOperator(b.id)).toThrow(/already ended/);
  });

  it('instant mode: a cancel right after create cancels everything', async () => {
    const { client } = await frozen();
    const b = await client.messages.batches.create({ requests: [req('i1'), req('i2')] });
    const canceling = await client.messages.batches.cancel(b.id);
    expect(canceling.processing_status).toBe('canceling');
    expect(canceling.cancel_initiated_at).toBe(canceling.created_at);
    const ended = await client.messages.batches.retrieve(b.id);
    expect(ended.request_counts.canceled).toBe(2);
  });
});
