/** Budgets' shape and windows, and the estimate a budget reserves (estimateCost). */
import { describe, expect, it } from 'vitest';
import {
  budgetWindow,
  budgetWindowEnd,
  ConfigError,
  costOf,
  estimateCost,
  parseBudgetAmount,
  parseBudgetsFile,
} from '../src/index.js';

describe('parseBudgetsFile', () => {
  it('takes budgets with their defaults', () => {
    const got = parseBudgetsFile(
      JSON.stringify({
        budgets: [{ name: 'classify-docs', period: 'day', limitUsd: 50, feature: 'classify-docs' }],
      }),
    );
    expect(got).toEqual([
      {
        name: 'classify-docs',
        period: 'day',
        limitUsd: 50,
        feature: 'classify-docs',
        mode: 'hold',
        alertAt: 0.8,
      },
    ]);
  });

  it('refuses a bad field, naming it, and a budget given twice', () => {
    expect(() => parseBudgetsFile('{"budgets":[{"name":"a b","period":"week","limitUsd":-1}]}')).toThrow(
      /budgets\.0\.name: .*budgets\.0\.period: .*budgets\.0\.limitUsd/,
    );
    const twice = { name: 'a', period: 'day', limitUsd: 1 };
    expect(() => parseBudgetsFile(JSON.stringify({ budgets: [twice, twice] }))).toThrow(
      /a\/day is given twice/,
    );
    expect(() => parseBudgetsFile('nope')).toThrow(ConfigError);
  });
});

describe('parseBudgetAmount', () => {
  it('reads dollars per day or month', () => {
    expect(parseBudgetAmount('50/day')).toEqual({ limitUsd: 50, period: 'day' });
    expect(parseBudgetAmount('$1200.5/month')).toEqual({ limitUsd: 1200.5, period: 'month' });
    expect(() => parseBudgetAmount('50/week')).toThrow(/dollars\/period/);
  });
});

describe('budget windows', () => {
  it('are the UTC day and month, ending at the next UTC midnight and first of the month', () => {
    const t = Date.UTC(2026, 11, 31, 23, 59);
    expect(budgetWindow('day', t)).toBe('2026-12-31');
    expect(budgetWindow('month', t)).toBe('2026-12');
    expect(budgetWindowEnd('day', t)).toBe(Date.UTC(2027, 0, 1));
    expect(budgetWindowEnd('month', t)).toBe(Date.UTC(2027, 0, 1));
  });
});

describe('estimateCost', () => {
  const params = { model: 'claude-haiku-4-5', max_tokens: 100 };
  it('prices every byte as an input token and max_tokens as output, at batch price', () => {
    const tokens = { input: 1000, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 100 };
    expect(estimateCost(params, '{}', 1000)).toBeCloseTo(costOf(tokens, params.model, 'batch').cost, 12);
    expect(estimateCost(params, '{}', 1000)).toBeCloseTo((1000 * 1 + 100 * 5) / 1e6 / 2, 12);
  });

  it('prices a prompt with cache_control as a cache write (1 h when it says so)', () => {
    const plain = estimateCost(params, '{}', 1000);
    const five = estimateCost(params, '{"cache_control":{"type":"ephemeral"}}', 1000);
    const hour = estimateCost(params, '{"cache_control":{"type":"ephemeral","ttl":"1h"}}', 1000);
    expect(five).toBeGreaterThan(plain);
    expect(hour).toBeGreaterThan(five);
  });

  it('is 0 for a model the table lacks', () => {
    expect(estimateCost({ model: 'nope', max_tokens: 10 }, '{}', 100)).toBe(0);
  });
});
