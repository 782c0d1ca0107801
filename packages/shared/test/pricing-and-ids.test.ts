import { describe, expect, it } from 'vitest';
import {
  CUSTOM_ID_PATTERN,
  checkPriceTable,
  costOf,
  DEFAULT_PRICES,
  deriveCustomId,
  findNonJson,
  mergePriceTables,
  modelLifecycle,
  priceFor,
  tokensFromUsage,
} from '../src/index.js';

describe('deriveCustomId', () => {
  it('is deterministic, within the API pattern, and separates features', () => {
    const a = deriveCustomId('classify-docs', 'doc/42:{weird key}');
    expect(a).toBe(deriveCustomId('classify-docs', 'doc/42:{weird key}'));
    expect(a).toMatch(CUSTOM_ID_PATTERN);
    expect(a).not.toBe(deriveCustomId('summarise', 'doc/42:{weird key}'));
    expect(deriveCustomId('x'.repeat(200), 'k')).toMatch(CUSTOM_ID_PATTERN);
    expect(deriveCustomId('ünïcode feature', 'k')).toMatch(CUSTOM_ID_PATTERN);
  });
});

describe('pricing', () => {
  it('matches dated model ids to their family, longest first', () => {
    expect(priceFor('claude-sonnet-4-5-20250929')?.input).toBe(3);
    expect(priceFor('claude-opus-5-5')?.input).toBe(4);
    expect(priceFor('claude-opus-5')?.input).toBe(5);
    expect(priceFor('gpt-4')).toBeUndefined();
  });

  it('halves every tier on the batch path, computed by hand', () => {
    // Haiku 4.5: $1 in, $1.25 5m write, $2 1h write, $0.10 read, $5 out per MTok.
    const t = { input: 1000, cacheWrite5m: 2000, cacheWrite1h: 3000, cacheRead: 4000, output: 500 };
    const list = (1000 * 1 + 2000 * 1.25 + 3000 * 2 + 4000 * 0.1 + 500 * 5) / 1e6; // 0.0124
    const c = costOf(t, 'claude-haiku-4-5', 'batch');
    expect(c.realtimeEquivalent).toBeCloseTo(list, 12);
    expect(c.cost).toBeCloseTo(list / 2, 12);
    expect(c.savings).toBeCloseTo(list / 2, 12);
    expect(costOf(t, 'claude-haiku-4-5', 'realtime').cost).toBeCloseTo(list, 12);
    expect(costOf(t, 'unknown-model', 'batch')).toMatchObject({ cost: 0, unpriced: true });
  });

  it('bills US-only inference at 1.1× every tier, on top of the batch discount, and names the premium', () => {
    const t = { input: 1000, cacheWrite5m: 2000, cacheWrite1h: 3000, cacheRead: 4000, output: 500 };
    // Sonnet 4.6: $3 in, $3.75 5m, $6 1h, $0.30 read, $15 out.
    const list = (1000 * 3 + 2000 * 3.75 + 3000 * 6 + 4000 * 0.3 + 500 * 15) / 1e6;
    const us = costOf(t, 'claude-sonnet-4-6', 'batch', DEFAULT_PRICES, 'us');
    expect(us.realtimeEquivalent).toBeCloseTo(list * 1.1, 12);
    expect(us.cost).toBeCloseTo(list * 1.1 * 0.5, 12);
    expect(us.usPremium).toBeCloseTo(list * 0.1 * 0.5, 12);
    expect(us.usInference).toBe(true);
    const global = costOf(t, 'claude-sonnet-4-6', 'batch', DEFAULT_PRICES, 'global');
    expect(global.cost).toBeCloseTo(list * 0.5, 12);
    expect(global.usInference).toBeUndefined();
  });

  it('knows each model’s lifecycle on a given day (a dated id follows its family)', () => {
    const day = (d: string) => Date.parse(`${d}T12:00:00Z`);
    expect(modelLifecycle('claude-sonnet-4-5-20250929', DEFAULT_PRICES, day('2026-12-02'))).toEqual({
      state: 'retired',
      retiresOn: '2026-11-30',
      replacement: 'claude-sonnet-4-6',
    });
    expect(modelLifecycle('claude-sonnet-4-5', DEFAULT_PRICES, day('2026-11-29')).state).toBe('deprecated');
    expect(modelLifecycle('claude-opus-4-5', DEFAULT_PRICES, day('2026-12-02'))).toEqual({
      state: 'deprecated',
      retiresOn: '2027-01-22',
      replacement: 'claude-opus-5-5',
    });
    expect(modelLifecycle('claude-opus-4-5', DEFAULT_PRICES, day('2027-01-22')).state).toBe('retired');
    expect(modelLifecycle('claude-haiku-4-5', DEFAULT_PRICES, day('2026-12-02')).state).toBe('active');
    expect(modelLifecycle('gpt-4', DEFAULT_PRICES, day('2026-12-02')).state).toBe('unknown');
  });

  it('merges a pricing file model by model and checks its lifecycle fields', () => {
    const merged = mergePriceTables(DEFAULT_PRICES, { 'claude-opus-4-5': { output: 30 } as never });
    expect(merged['claude-opus-4-5']).toMatchObject({ output: 30, input: 5, retiresOn: '2027-01-22' });
    expect(checkPriceTable({ 'claude-opus-4-5': { output: 30 } })).toEqual([]);
    expect(checkPriceTable({ 'new-model': { output: 30 } })).toContainEqual(
      'new-model.input must be a non-negative number of dollars per million tokens',
    );
    expect(
      checkPriceTable({ 'claude-haiku-4-5': { retiresOn: 'soon', replacement: '', inferenceGeo: 'yes' } }),
    ).toEqual([
      'claude-haiku-4-5.retiresOn must be a day as yyyy-mm-dd',
      'claude-haiku-4-5.replacement must be a model id',
      'claude-haiku-4-5.inferenceGeo must be true or false',
    ]);
  });

  it('uses long-context prices above the threshold', () => {
    const t = { input: 150_000, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1000 };
    expect(costOf(t, 'claude-haiku-5-5', 'realtime').cost).toBeCloseTo(
      (150_000 * 0.5 + 1000 * 2.5) / 1e6,
      12,
    );
  });

  it('reads usage with null cache fields as zero and splits cache writes by ttl', () => {
    expect(
      tokensFromUsage({
        input_tokens: 5,
        output_tokens: 7,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
      }),
    ).toEqual({ input: 5, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 7 });
    expect(
      tokensFromUsage({
        input_tokens: 1,
        output_tokens: 1,
        cache_creation_input_tokens: 30,
        cache_read_input_tokens: 4,
        cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 },
      }),
    ).toEqual({ input: 1, cacheWrite5m: 10, cacheWrite1h: 20, cacheRead: 4, output: 1 });
    expect(
      tokensFromUsage({
        input_tokens: 1,
        output_tokens: 1,
        cache_creation_input_tokens: 30,
        cache_creation: null,
      }),
    ).toMatchObject({ cacheWrite5m: 30 });
  });
});

describe('findNonJson', () => {
  it('names the first value JSON cannot carry', () => {
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(findNonJson({ a: [1, { b: Number.NaN }] })).toMatch(/a\[1\]\.b/);
    expect(findNonJson({ a: undefined })).toMatch(/undefined/);
    expect(findNonJson({ d: new Date() })).toMatch(/Date/);
    expect(findNonJson(cyc)).toMatch(/circular/);
    expect(findNonJson({ ok: ['x', 1, true, null, { y: 'z' }] })).toBeNull();
    expect(findNonJson(JSON.parse('{"__proto__": {"x": 1}}'))).toBeNull();
  });
});
