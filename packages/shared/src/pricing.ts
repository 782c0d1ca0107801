import type { CostBreakdown, TokenCounts, Usage } from './types.js';

/** List (real-time, standard tier) prices in US dollars per million tokens. */
export interface ModelPrice {
  input: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  output: number;
  /** Prices that apply instead when the prompt (all input tiers) exceeds `threshold` tokens. */
  longContext?: { threshold: number } & Omit<ModelPrice, 'longContext'>;
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

const opus5: ModelPrice = { input: 5, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5, output: 25 };
const sonnet5: ModelPrice = { input: 2, cacheWrite5m: 2.5, cacheWrite1h: 4, cacheRead: 0.2, output: 10 };
const sonnet4: ModelPrice = { input: 3, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3, output: 15 };

export const DEFAULT_PRICES: PriceTable = Object.freeze({
  'claude-opus-5-5': { input: 4, cacheWrite5m: 5, cacheWrite1h: 8, cacheRead: 0.2, output: 20 },
  'claude-opus-5': opus5,
  'claude-opus-4-8': opus5,
  'claude-opus-4-7': opus5,
  'claude-opus-4-6': opus5,
  'claude-opus-4-5': opus5,
  'claude-sonnet-5-5': sonnet5,
  'claude-sonnet-5': sonnet5,
  'claude-sonnet-4-6': sonnet4,
  'claude-sonnet-4-5': sonnet4,
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
  'claude-haiku-4-5': { input: 1, cacheWrite5m: 1.25, cacheWrite1h: 2, cacheRead: 0.1, output: 5 },
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

/** Cost of one result in dollars: at batch price (50 %) or list price, beside the list-price equivalent. */
export function costOf(
  tokens: TokenCounts,
  model: string,
  mode: 'batch' | 'realtime',
  table: PriceTable = DEFAULT_PRICES,
): CostBreakdown {
  const price = priceFor(model, table);
  if (!price) return { cost: 0, realtimeEquivalent: 0, savings: 0, unpriced: true };
  const realtimeEquivalent = listCost(tokens, price);
  const cost = mode === 'batch' ? realtimeEquivalent * BATCH_DISCOUNT : realtimeEquivalent;
  return { cost, realtimeEquivalent, savings: realtimeEquivalent - cost };
}

/** The ledger stores money as integer nano-dollars so increments are exact. */
export const toNano = (dollars: number): number => Math.round(dollars * 1e9);
export const fromNano = (nano: number): number => nano / 1e9;

/** Validates a user-supplied price table (from NIGHTSHIFT_PRICING_FILE); returns problems. */
export function checkPriceTable(table: unknown): string[] {
  const problems: string[] = [];
  if (!table || typeof table !== 'object' || Array.isArray(table))
    return ['must be an object keyed by model id'];
  for (const [model, price] of Object.entries(table as Record<string, unknown>)) {
    for (const tier of ['input', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead', 'output'] as const) {
      const v = (price as Record<string, unknown> | null)?.[tier];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        problems.push(`${model}.${tier} must be a non-negative number of dollars per million tokens`);
      }
    }
  }
  return problems;
}
