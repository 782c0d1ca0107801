import type { MessageParams, ResultPayload } from '@nightshift/shared';
import { createRedis } from '@nightshift/store';
import { useRedis } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { costReport } from '../src/index.js';
import { capturingLogger, withWorld } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));

// List prices in USD per million tokens, copied by hand from the pricing page (not from the code):
//                                 input  5m write  1h write  cache read  output
const SONNET_46 = { input: 3, cw5: 3.75, cw1h: 6, cr: 0.3, out: 15 };
const HAIKU_45 = { input: 1, cw5: 1.25, cw1h: 2, cr: 0.1, out: 5 };

const SHARED_A = 'You summarise legal documents in two sentences. '.repeat(20);
const SHARED_B = 'You label support tickets with one word. '.repeat(20);

function params(model: string, system: string, ttl: '5m' | '1h', cid: string): MessageParams {
  return {
    model,
    max_tokens: 64,
    system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral', ttl } }],
    messages: [{ role: 'user', content: `Document ${cid}: the quick brown fox ${cid}.` }],
  };
}

/** Dollars at batch price (half of list), computed by hand from a result's usage. */
function handCost(p: ResultPayload, price: typeof SONNET_46) {
  const u = p.message.usage;
  const cw5 = u.cache_creation?.ephemeral_5m_input_tokens ?? 0;
  const cw1h = u.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  const list =
    (u.input_tokens * price.input +
      cw5 * price.cw5 +
      cw1h * price.cw1h +
      (u.cache_read_input_tokens ?? 0) * price.cr +
      u.output_tokens * price.out) /
    1_000_000;
  return { batch: list / 2, list, cw5, cw1h, cr: u.cache_read_input_tokens ?? 0 };
}

describe('the cost and savings ledger', () => {
  it('prices two models with cache writes and reads exactly as computed by hand', async () => {
    await withWorld(
      fx.redis,
      async (w) => {
        const { logger, lines } = capturingLogger();
        const sonnet = ['s-1', 's-2', 's-3'];
        const haiku = ['h-1', 'h-2', 'h-3'];
        const a = await w.seed({
          cids: sonnet,
          feature: 'summarize',
          params: (cid) => params('claude-sonnet-4-6', SHARED_A, '5m', cid),
        });
        const b = await w.seed({
          cids: haiku,
          feature: 'triage',
          params: (cid) => params('claude-haiku-4-5', SHARED_B, '1h', cid),
        });
        const T = Date.now();
        await w.collector({ logger, now: () => T });
        await w.waitCollected(a.batch.id);
        await w.waitCollected(b.batch.id);

        const payloads = await w.delivered();
        expect(payloads).toHaveLength(6);
        const costs = payloads.map((p) => ({
          p,
          ...handCost(p, p.model === 'claude-sonnet-4-6' ? SONNET_46 : HAIKU_45),
        }));
        const of = (model: string) => costs.filter((c) => c.p.model === model);
        // The cache tiers really occur: one write per batch (5 m for Sonnet, 1 h for Haiku), then reads.
        expect(of('claude-sonnet-4-6').reduce((n, c) => n + c.cw5, 0)).toBeGreaterThan(0);
        expect(of('claude-haiku-4-5').reduce((n, c) => n + c.cw1h, 0)).toBeGreaterThan(0);
        for (const m of ['claude-sonnet-4-6', 'claude-haiku-4-5']) {
          expect(of(m).filter((c) => c.cr > 0)).toHaveLength(2);
        }
        for (const c of costs) {
          expect(c.p.cost.cost).toBeCloseTo(c.batch, 12);
          expect(c.p.cost.realtimeEquivalent).toBeCloseTo(c.list, 12);
        }

        const sum = (xs: typeof costs, k: 'batch' | 'list') => xs.reduce((n, c) => n + c[k], 0);
        const report = await costReport(w.store, { days: 1, now: T });
        expect(report.totals.results).toBe(6);
        expect(report.totals.batchResults).toBe(6);
        expect(report.totals.costUsd).toBeCloseTo(sum(costs, 'batch'), 8);
        expect(report.totals.realtimeEquivalentUsd).toBeCloseTo(sum(costs, 'list'), 8);
        expect(report.totals.savingsUsd).toBeCloseTo(sum(costs, 'list') - sum(costs, 'batch'), 8);
        const byModel = Object.fromEntries(report.byModel.map((r) => [r.model, r]));
        for (const m of ['claude-sonnet-4-6', 'claude-haiku-4-5']) {
          expect(byModel[m]!.results).toBe(3);
          expect(byModel[m]!.costUsd).toBeCloseTo(sum(of(m), 'batch'), 8);
          expect(byModel[m]!.tokens.cacheRead).toBe(of(m).reduce((n, c) => n + c.cr, 0));
        }
        expect(report.byFeature.map((r) => r.feature).sort()).toEqual(['summarize', 'triage']);
        expect(report.byFeature.find((r) => r.feature === 'triage')!.costUsd).toBeCloseTo(
          sum(of('claude-haiku-4-5'), 'batch'),
          8,
        );
        expect(report.byFeatureModel).toHaveLength(2);
        expect(report.byDay).toHaveLength(1);
        expect(report.byDay[0]!.results).toBe(6);

        const week = await costReport(w.store, { days: 7, now: T });
        expect(week.byDay).toHaveLength(7);
        expect(week.byDay.at(-1)!.day).toBe(new Date(T).toISOString().slice(0, 10));
        expect(week.totals.costUsd).toBe(report.totals.costUsd);

        // The usage log carries the same figures, one line per result.
        const usage = lines.filter((l) => l.event === 'usage');
        expect(usage).toHaveLength(6);
        const logged = usage.reduce((n, l) => n + (l.costUsd as number), 0);
        expect(logged).toBeCloseTo(sum(costs, 'batch'), 10);
      },
      { minCacheableTokens: 16 },
    );
  });

  it('settles each budget reservation from the real cost: reserved goes to 0, spent is the ledger cost', async () => {
    await withWorld(
      fx.redis,
      async (w) => {
        const T = Date.now();
        await w.store.budgets.set({
          name: 'sum',
          period: 'day',
          limitUsd: 10,
          feature: 'summarize',
          mode: 'hold',
          alertAt: 0.8,
        });
        const cids = ['s-1', 's-2', 's-3', 's-4'];
        const a = await w.seed({
          cids,
          feature: 'summarize',
          params: (cid) => params('claude-sonnet-4-6', SHARED_A, '5m', cid),
          now: T,
        });
        const ests = (await w.store.records.peek(cids, ['estimate'])).map((r) => Number(r!.estimate) / 1e9);
        const [claimed] = await w.store.budgets.usage(T);
        expect(claimed!.reserved).toBeCloseTo(
          ests.reduce((x, y) => x + y, 0),
          9,
        );
        expect(claimed!.spent).toBe(0);

        await w.collector({ now: () => T });
        await w.waitCollected(a.batch.id);
        const payloads = await w.delivered();
        const [settled] = await w.store.budgets.usage(T);
        expect(settled!.reserved).toBe(0);
        const cost = payloads.reduce((n, p) => n + p.cost.cost, 0);
        expect(settled!.spent).toBeCloseTo(cost, 8);
        // the estimate is an upper bound of each request's real cost
        for (const p of payloads) expect(p.cost.cost).toBeLessThanOrEqual(ests[cids.indexOf(p.customId)]!);
      },
      { minCacheableTokens: 16 },
    );
  });
});
