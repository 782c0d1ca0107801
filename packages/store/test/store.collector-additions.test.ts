import { queuedItem } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { costReport, type EnqueueItem } from '../src/index.js';
import { useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();

const item = (cid: string, over: Partial<EnqueueItem> = {}): EnqueueItem =>
  queuedItem(cid, {
    feature: 'classify',
    params: '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}',
    meta: '{"k":1}',
    bytes: 50,
    ...over,
  });

describe('peekMany', () => {
  it('answers exactly like peek, for known and unknown ids, across its 1,000-id chunks', async () => {
    const cids = Array.from({ length: 1500 }, (_, i) => `p${i}`);
    await s.store.records.enqueue(cids.filter((_, i) => i % 7 !== 0).map((c) => item(c, { deadline: 5 })));
    const fields = ['state', 'metadata', 'deadline', 'submission', 'realtimeAllowed'] as const;
    const a = await s.store.records.peek(cids, [...fields]);
    const b = await s.store.records.peekMany(cids, [...fields]);
    expect(b).toEqual(a);
    expect(b[0]).toBeNull();
    expect(b[1]).toEqual({
      state: 'queued',
      metadata: '{"k":1}',
      deadline: '5',
      submission: '',
      realtimeAllowed: '',
    });
    expect(await s.store.records.peekMany([], ['state'])).toEqual([]);
  });

  it('reads a value holding the reply separator (\\x1f) unharmed', async () => {
    await s.store.records.enqueue([item('odd', { meta: 'a\x1fb\x1f' }), item('plain')]);
    expect(await s.store.records.peekMany(['odd', 'plain'], ['metadata', 'state'])).toEqual([
      { metadata: 'a\x1fb\x1f', state: 'queued' },
      { metadata: '{"k":1}', state: 'queued' },
    ]);
  });
});

describe('touchRealtime', () => {
  it('moves only existing real-time entries forward in time', async () => {
    await s.store.records.enqueue([item('r1', { state: 'realtime' }), item('r2', { state: 'realtime' })], {
      now: 1000,
    });
    await s.store.realtime.touch(['r1', 'ghost'], 5000);
    expect(await s.store.realtime.stale(2000)).toEqual(['r2']);
    expect(await s.store.realtime.stale(6000)).toEqual(['r2', 'r1']);
  });
});

describe('costReport', () => {
  it('sums the ledger per feature, model and day, batch and real-time apart', async () => {
    await s.store.records.enqueue([
      item('a'),
      item('b', { feature: 'other' }),
      item('c', { state: 'realtime' }),
    ]);
    const now = Date.UTC(2026, 10, 20, 12);
    const tokens = { input: 100, cacheWrite5m: 10, cacheWrite1h: 0, cacheRead: 50, output: 20 };
    const entry = { attempt: 1, batchId: 'b1', outcome: 'succeeded' as const, at: now };
    const success = (cid: string, mode: 'batch' | 'realtime', costNano: number, listNano: number) => ({
      cid,
      action: 'success' as const,
      mode,
      tokens,
      costNano,
      listNano,
      entry,
      batchId: mode === 'batch' ? 'b1' : null,
      delivery: `res-${cid}`,
    });
    await s.store.outcomes.apply(
      [success('a', 'batch', 1_000, 2_000), success('b', 'batch', 3_000, 6_000)],
      now,
    );
    await s.store.outcomes.apply([success('c', 'realtime', 4_000, 4_000)], now - 86_400_000);
    const day = await costReport(s.store, { days: 1, now });
    expect(day.totals).toMatchObject({ results: 2, batchResults: 2, realtimeResults: 0 });
    expect(day.totals.costUsd).toBeCloseTo(4e-6, 15);
    expect(day.totals.savingsUsd).toBeCloseTo(4e-6, 15);
    expect(day.byFeature.map((f) => f.feature)).toEqual(['other', 'classify']);
    const week = await costReport(s.store, { days: 7, now });
    expect(week.from).toBe('2026-11-14');
    expect(week.to).toBe('2026-11-20');
    expect(week.totals).toMatchObject({ results: 3, realtimeResults: 1 });
    expect(week.totals.costUsd).toBeCloseTo(8e-6, 15);
    expect(week.totals.tokens.cacheRead).toBe(150);
    expect(week.byDay.map((d) => d.results)).toEqual([0, 0, 0, 0, 0, 1, 2]);
    expect(week.byModel).toHaveLength(1);
  });
});
