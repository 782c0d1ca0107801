/** A `hold` budget at the batcher: a flush claims only what fits, the rest waits queued. */

import { uniquePrefix } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { batcherFor, clock, enqueue, freshBatcher, storeFor, useEnv } from './helpers.js';

const env = useEnv({ resetEach: true });
const nanoUsd = (nano: number) => nano / 1e9;

describe('when a hold budget is full', () => {
  it('submits only what fits, keeps the rest queued, alerts, and submits it once the limit is raised', async () => {
    const { b, store } = await freshBatcher(env, { maxWaitMs: 1 });
    const budget = { name: 'cls', period: 'day', limitUsd: nanoUsd(5_000), feature: 'classify' } as const;
    await store.budgets.set({ ...budget, mode: 'hold', alertAt: 0.8 });
    await enqueue(store, 8, { est: 1_000 });
    await enqueue(store, 2, { est: 1_000, partition: 'other' }, 'o');
    clock.advance(5);
    const first = await b.runFlushOnce();
    expect(first.batches.reduce((n, x) => n + x.requestCount, 0)).toBe(5);
    expect(first.heldByBudget).toBe(5);
    // held by the budget, not by admission
    expect(first.admission?.held).toBe(0);
    expect((await store.pending.overview(clock.now())).total).toBe(5);
    const [use] = await store.budgets.usage(clock.now());
    expect(use).toMatchObject({ reserved: nanoUsd(5_000), spent: 0, remaining: 0 });
    const alerts = await store.alerts.list();
    expect(alerts.map((a) => a.budget)).toEqual(['cls/day']);
    expect(alerts[0]!.message).toMatch(/budget cls\/day: .* 100 % ≥ its 80 % alert; mode hold/);

    // Nothing more fits: a second flush submits nothing.
    const again = await b.runFlushOnce();
    expect(again.batches).toEqual([]);
    expect(again.heldByBudget).toBe(5);

    await store.budgets.set({ ...budget, limitUsd: nanoUsd(100_000), mode: 'hold', alertAt: 0.8 });
    const raised = await b.runFlushOnce();
    expect(raised.batches.reduce((n, x) => n + x.requestCount, 0)).toBe(5);
    expect(raised.heldByBudget).toBeUndefined();
    expect(await store.alerts.list()).toEqual([]);
  });

  it('writes the budgets it was started with into the store, keeping those set by the CLI', async () => {
    const base = { period: 'month', limitUsd: 1, mode: 'refuse', alertAt: 0.5 } as const;
    const prefix = uniquePrefix();
    const store = storeFor(env, prefix);
    const first = await batcherFor(env, prefix, {
      runWorker: true,
      budgets: [{ name: 'from-file', ...base }],
    });
    env.open.push(first);
    await store.budgets.set({ name: 'from-cli', ...base });
    await store.budgets.set({ name: 'gone', ...base }, 'file');
    const second = await batcherFor(env, prefix, {
      runWorker: true,
      budgets: [{ name: 'from-file', ...base, limitUsd: 2 }],
    });
    env.open.push(second);
    expect((await store.budgets.list()).map((x) => `${x.id}:${x.source}:${x.limitUsd}`)).toEqual([
      'from-cli/month:cli:1',
      'from-file/month:file:2',
    ]);
  });
});
