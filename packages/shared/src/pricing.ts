import type { CostBreakdown, TokenCounts, Usage } from './types.js';

/** List (real-time, standard tier) prices in US dollars per million tokens, one per tier. */
export interface TierPrices {
  input: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  output: number;
}

/** One model of the price table: its prices and what the docs say about its lifecycle and params. */
export interface ModelPrice extends TierPrices {
  /** Prices that apply instead when the prompt (all input tiers) exceeds `threshold` tokens. */
  longContext?: { threshold: number } & TierPrices;
  /** The day (`yyyy-mm-dd`, UTC) Anthropic deprecated the model: enqueue warns from then on. */
  deprecatedOn?: string;
  /** The day (`yyyy-mm-dd`, UTC) the model stops answering: enqueue refuses it from then on. */
  retiresOn?: string;
  /** The model Anthropic recommends instead. */
  replacement?: string;
  /**
   * Whether the model takes `inference_geo` (data residency): false makes enqueue refuse the param
   * (the API answers 400 on models before 4.6); absent when the docs do not say (not checked).
   */
  inferenceGeo?: boolean;
}

export type PriceTable = Record<string, ModelPrice>;

/** The Batches API charges 50 % of list price for every input and output tier. */
export const BATCH_DISCOUNT = 0.5;

/**
 * Source: Anthropic's pricing page and model overview pages (stored copies, late 2026), as summarised
 * in shared/anthropic-batches-api.md §7. Prices change: override with NIGHTSHIFT_PRICING_FILE.
 * Values marked there as unverified (Haiku 5.5 cache tiers) are kept and flagged here.
 */
export const PRICING_AS_OF = '2026-11-01';

/**
 * When the lifecycle fields (deprecation, retirement, replacement, `inference_geo`) were checked.
 * Dates: the SDK 1.14.0's own deprecation table (`src/internal/data/deprecated-models.ts`: Sonnet 4.5
 * end of life 2026-11-30, Opus 4.5 2027-01-22) and shared/anthropic-batches-api.md §10 (Opus 4.5
 * deprecated; `inference_geo` on Opus/Sonnet 4.6 and later). Deprecation days and replacements come
 * from the docs' deprecations page as quoted by third parties (Opus 4.5 deprecated 2026-11-23 →
 * claude-opus-5-5; Sonnet 4.5 → claude-sonnet-4-6): unverified, override with NIGHTSHIFT_PRICING_FILE.
 */
export const LIFECYCLE_AS_OF = '2026-12-02';

/** US-only inference (`usage.inference_geo: "us"`) is billed at 1.1× every tier (support.claude.com/en/articles/15422948). */
export const US_INFERENCE_MULTIPLIER = 1.1;

const opus5: TierPrices = { input: 5, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5, output: 25 };
const sonnet5: TierPrices = { input: 2, cacheWrite5m: 2.5, cacheWrite1h: 4, cacheRead: 0.2, output: 10 };
const sonnet4: TierPrices = { input: 3, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3, output: 15 };
/** Opus and Sonnet 4.6 and later take `inference_geo`; earlier models answer 400. */
const geo = { inferenceGeo: true } as const;
const noGeo = { inferenceGeo: false } as const;

export const DEFAULT_PRICES: PriceTable = Object.freeze({
  'claude-opus-5-5': { input: 4, cacheWrite5m: 5, cacheWrite1h: 8, cacheRead: 0.2, output: 20, ...geo },
  'claude-opus-5': { ...opus5, ...geo },
  'claude-opus-4-8': { ...opus5, ...geo },
  'claude-opus-4-7': { ...opus5, ...geo },
  'claude-opus-4-6': { ...opus5, ...geo },
  'claude-opus-4-5': {
    ...opus5,
    ...noGeo,
    deprecatedOn: '2026-11-23',
    retiresOn: '2027-01-22',
    replacement: 'claude-opus-5-5',
  },
  'claude-sonnet-5-5': { ...sonnet5, ...geo },
  'claude-sonnet-5': { ...sonnet5, ...geo },
  'claude-sonnet-4-6': { ...sonnet4, ...geo },
  'claude-sonnet-4-5': { ...sonnet4, ...noGeo, retiresOn: '2026-11-30', replacement: 'claude-sonnet-4-6' },
  // Haiku 5.5 cache tiers and long-context prices come from third-party pages (unverified).
  'claude-haiku-5-5': {
    input: 0.1,
    cacheWrite5m: 0.125,
    cacheWrite1h: 0.2,
    cacheRead: 0.01,
    output: 0.5,
    longContext: {
      threshold: 100_000,
      input: 0.5,
      cacheWrite5m: 0.625,
      cacheWrite1h: 1,
      cacheRead: 0.05,
      output: 2.5,
    },
  },
  'claude-haiku-4-5': { input: 1, cacheWrite5m: 1.25, cacheWrite1h: 2, cacheRead: 0.1, output: 5, ...noGeo },
});

/** Finds a model's price: exact id first, then the longest table id the model id starts with. */
export function priceFor(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice | undefined {
  if (table[model]) return table[model];
  let best: string | undefined;
  for (const id of Object.keys(table)) {
    if (model.startsWith(`${id}-`) && (!best || id.length > best.length)) best = id;
  }
  return best ? table[best] : undefined;
}

/**
 * Token counts by tier from a Message's usage. `input_tokens` is the uncached part only. When
 * `cache_creation` is null, all cache-creation tokens are billed at the 5-minute rate.
 */
export function tokensFromUsage(usage: Partial<Usage> | null | undefined): TokenCounts {
  const created = usage?.cache_creation_input_tokens ?? 0;
  const split = usage?.cache_creation;
  const cacheWrite1h = split ? (split.ephemeral_1h_input_tokens ?? 0) : 0;
  const cacheWrite5m = split ? (split.ephemeral_5m_input_tokens ?? 0) : created;
  return {
    input: usage?.input_tokens ?? 0,
    cacheWrite5m,
    cacheWrite1h,
    cacheRead: usage?.cache_read_input_tokens ?? 0,
    output: usage?.output_tokens ?? 0,
  };
}

function listCost(t: TokenCounts, price: ModelPrice): number {
  const prompt = t.input + t.cacheWrite5m + t.cacheWrite1h + t.cacheRead;
  const p = price.longContext && prompt > price.longContext.threshold ? price.longContext : price;
  return (
    (t.input * p.input +
      t.cacheWrite5m * p.cacheWrite5m +
      t.cacheWrite1h * p.cacheWrite1h +
      t.cacheRead * p.cacheRead +
      t.output * p.output) /
    1_000_000
  );
}

/**
 * Cost of one result in dollars: at batch price (50 %) or list price, beside the list-price
 * equivalent. US-only inference (`inferenceGeo` 'us', from `usage.inference_geo`) multiplies every
 * tier by 1.1; whether that stacks with the batch discount is not documented, so both apply (the
 * real-time equivalent is priced with the same geography, so savings stay batch savings).
 */
export function costOf(
  tokens: TokenCounts,
  model: string,
  mode: 'batch' | 'realtime',
  table: PriceTable = DEFAULT_PRICES,
  inferenceGeo?: string | null,
): CostBreakdown {
  const price = priceFor(model, table);
  if (!price) return { cost: 0, realtimeEquivalent: 0, savings: 0, unpriced: true };
  const us = inferenceGeo === 'us';
  const base = listCost(tokens, price);
  const realtimeEquivalent = us ? base * US_INFERENCE_MULTIPLIER : base;
  const cost = mode === 'batch' ? realtimeEquivalent * BATCH_DISCOUNT : realtimeEquivalent;
  if (!us) return { cost, realtimeEquivalent, savings: realtimeEquivalent - cost };
  const usPremium = cost - cost / US_INFERENCE_MULTIPLIER;
  return { cost, realtimeEquivalent, savings: realtimeEquivalent - cost, usInference: true, usPremium };
}

/**
 * The most a request can cost at batch price, in dollars: what a budget reserves when the request
 * is claimed (ARCHITECTURE.md "Budgets": how far it is from the truth). An upper bound, not a
 * guess: every prompt token is at least one byte of the serialized params, so `bytes` bounds the
 * input tokens; a prompt with `cache_control` is priced as a cache write (1 h when it says "1h");
 * the output is `max_tokens` at the output price; long-context and US-only prices apply when they
 * could. A model the table lacks costs 0 (the ledger marks it unpriced).
 */
export function estimateCost(
  params: { model: string; max_tokens?: number; inference_geo?: unknown },
  paramsJson: string,
  bytes: number,
  table: PriceTable = DEFAULT_PRICES,
): number {
  const cached = paramsJson.includes('"cache_control"');
  const oneHour = cached && /"ttl"\s*:\s*"1h"/.test(paramsJson);
  const tokens: TokenCounts = {
    input: cached ? 0 : bytes,
    cacheWrite5m: cached && !oneHour ? bytes : 0,
    cacheWrite1h: oneHour ? bytes : 0,
    cacheRead: 0,
    output: Math.max(0, params.max_tokens ?? 0),
  };
  return costOf(tokens, params.model, 'batch', table, params.inference_geo === 'us' ? 'us' : null).cost;
}

/** Where a model is in its lifecycle on a given day, per the price table. */
export type ModelLifecycle =
  | { state: 'active' }
  | { state: 'unknown' }
  | { state: 'deprecated'; retiresOn?: string; replacement?: string }
  | { state: 'retired'; retiresOn: string; replacement?: string };

/** The model's lifecycle on `now` (a model the table lacks is 'unknown'; dates are UTC days). */
export function modelLifecycle(model: string, table: PriceTable, now: number): ModelLifecycle {
  const p = priceFor(model, table);
  if (!p) return { state: 'unknown' };
  const today = new Date(now).toISOString().slice(0, 10);
  const replacement = p.replacement ? { replacement: p.replacement } : {};
  if (p.retiresOn && today >= p.retiresOn)
    return { state: 'retired', retiresOn: p.retiresOn, ...replacement };
  if ((p.deprecatedOn && today >= p.deprecatedOn) || p.retiresOn) {
    return { state: 'deprecated', ...(p.retiresOn ? { retiresOn: p.retiresOn } : {}), ...replacement };
  }
  return { state: 'active' };
}

/** The ledger stores money as integer nano-dollars so increments are exact. */
export const toNano = (dollars: number): number => Math.round(dollars * 1e9);
export const fromNano = (nano: number): number => nano / 1e9;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Validates a user-supplied price table (from NIGHTSHIFT_PRICING_FILE); returns problems. An entry
 * for a model of the built-in table may give only what it changes (it is merged over the built-in
 * entry); a new model needs every tier.
 */
export function checkPriceTable(table: unknown, base: PriceTable = DEFAULT_PRICES): string[] {
  const problems: string[] = [];
  if (!table || typeof table !== 'object' || Array.isArray(table))
    return ['must be an object keyed by model id'];
  for (const [model, raw] of Object.entries(table as Record<string, unknown>)) {
    const price = raw as Record<string, unknown> | null;
    if (!price || typeof price !== 'object' || Array.isArray(price)) {
      problems.push(`${model} must be an object of prices`);
      continue;
    }
    for (const tier of ['input', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead', 'output'] as const) {
      const v = price[tier];
      if (v === undefined && base[model]) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        problems.push(`${model}.${tier} must be a non-negative number of dollars per million tokens`);
      }
    }
    for (const day of ['deprecatedOn', 'retiresOn'] as const) {
      const v = price[day];
      if (v !== undefined && (typeof v !== 'string' || !DAY.test(v) || Number.isNaN(Date.parse(v)))) {
        problems.push(`${model}.${day} must be a day as yyyy-mm-dd`);
      }
    }
    if (price.replacement !== undefined && (typeof price.replacement !== 'string' || !price.replacement)) {
      problems.push(`${model}.replacement must be a model id`);
    }
    if (price.inferenceGeo !== undefined && typeof price.inferenceGeo !== 'boolean') {
      problems.push(`${model}.inferenceGeo must be true or false`);
    }
  }
  return problems;
}

/** The built-in table with a user's table merged over it, model by model. */
export function mergePriceTables(base: PriceTable, over: PriceTable): PriceTable {
  const out: PriceTable = { ...base };
  for (const [model, price] of Object.entries(over)) out[model] = { ...base[model], ...price } as ModelPrice;
  return out;
}
