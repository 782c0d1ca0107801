/** Budgets at enqueue: the estimate each record carries, and what `refuse` and `hold` refuse. */
import { estimateCost, toNano } from '@nightshift/shared';
import { createRedis, Store } from '@nightshift/store';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { BudgetExceededError, createProducer, type Producer } from '../src/index.js';
import { docRequest } from './helpers.js';

const fx = useRedis((url) => createRedis({ url }, 'client'));
const T0 = Date.parse('2026-11-02T12:00:00Z');
const HOUR = 3_600_000;
let store: Store;
let producer: Producer;
const open: Producer[] = [];

afterAll(async () => {
  await Promise.all(open.map((p) => p.close()));
});
beforeEach(() => {
  const prefix = uniquePrefix();
  store = new Store(fx.redis, prefix);
  producer = createProducer({ connection: fx.redis, prefix, now: () => T0 });
  open.push(producer);
});

const total = async () => (await store.pending.overview()).total;
const estimateOf = async (i: number) => {
  const [rec] = await store.records.peek(
    [producer.customIdFor('classify-docs', `doc-${i}`)],
    ['estimate', 'params', 'bytes', 'model'],
  );
  return rec!;
};

describe('the estimate', () => {
  it('is written with each request: estimateCost of its params, in nano-dollars', async () => {
    await producer.enqueue(docRequest(1));
    const rec = await estimateOf(1);
    const params = JSON.parse(rec.params) as { model: string; max_tokens: number };
    expect(Number(rec.estimate)).toBe(toNano(estimateCost(params, rec.params, Number(rec.bytes))));
    expect(Number(rec.estimate)).toBeGreaterThan(0);
  });
});

describe('a refuse budget', () => {
  it('refuses the whole call its estimates would pass, naming the budget, and writes nothing', async () => {
    await producer.enqueue(docRequest(0));
    const one = Number((await estimateOf(0)).estimate);
    // room for three more requests like it
    await store.budgets.set({
      name: 'docs',
      period: 'day',
      limitUsd: (4 * one) / 1e9,
      feature: 'classify-docs',
      mode: 'refuse',
      alertAt: 0.8,
    });
    // nothing is reserved before a claim: the queued request does not count yet
    const err = await producer.enqueueMany([1, 2, 3, 4, 5].map((i) => docRequest(i))).catch((e) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect(err.code).toBe('BUDGET_EXCEEDED');
    expect(err.budget).toBe('docs/day');
    expect(err.customIds).toHaveLength(5);
    expect(err.message).toMatch(
      /^budget docs\/day: 5 request\(s\) estimated at .* mode refuse\).* Refused: requests\[0\]/,
    );
    expect(await total()).toBe(1);
    // what fits is taken; another feature is not covered
    await producer.enqueueMany([1, 2, 3].map((i) => docRequest(i)));
    await producer.enqueue(docRequest(9, { feature: 'summarize' }));
    expect(await total()).toBe(5);
  });
});

describe('a full hold budget', () => {
  it('takes requests without a deadline (they wait) and refuses those whose deadline the wait would miss', async () => {
    await store.budgets.set({ name: 'docs', period: 'day', limitUsd: 0, mode: 'hold', alertAt: 0.8 });
    expect((await producer.enqueue(docRequest(1))).outcome).toBe('queued');
    // resets at midnight; then up to 24 h in a batch
    const midnight = Date.parse('2026-11-03T00:00:00Z');
    expect((await producer.enqueue(docRequest(2, { deadline: midnight + 25 * HOUR }))).outcome).toBe(
      'queued',
    );
    const err = await producer.enqueue(docRequest(3, { deadline: midnight + 23 * HOUR })).catch((e) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect(err.message).toMatch(/deadline before 2026-11-04T00:00:00.000Z .* mode hold/);
    expect(await total()).toBe(2);
  });
});
