import { fromNano, type TokenCounts } from '@nightshift/shared';
import { type LedgerRow, utcDay } from './ledger.js';
import type { Store } from './store.js';

const DAY_MS = 86_400_000;

/** Money and tokens of a set of succeeded results (batch and real-time together). */
export interface CostFigures {
  /** Succeeded results (batch + real-time). */
  results: number;
  /** Of which delivered from a batch. */
  batchResults: number;
  /** Of which answered on the real-time path (list price). */
  realtimeResults: number;
  /** Tokens by pricing tier. */
  tokens: TokenCounts;
  /** What was paid, in US dollars: batch results at 50 % of list, real-time results at list. */
  costUsd: number;
  /** The same tokens at the real-time (list) price. */
  realtimeEquivalentUsd: number;
  /** realtimeEquivalentUsd − costUsd: what batching saved. */
  savingsUsd: number;
  /** Results the API ran US-only (`inference_geo: "us"`, billed at 1.1×). */
  usInferenceResults: number;
  /** Of costUsd, what US-only inference added. */
  usPremiumUsd: number;
}

/** The cost and savings ledger over the last 1, 7 or 30 UTC days (today included). */
export interface CostReport {
  days: 1 | 7 | 30;
  /** First and last UTC day covered (yyyy-mm-dd). */
  from: string;
  to: string;
  totals: CostFigures;
  /** Per feature, most expensive first. */
  byFeature: (CostFigures & { feature: string })[];
  /** Per model, most expensive first. */
  byModel: (CostFigures & { model: string })[];
  /** Per feature and model, most expensive first. */
  byFeatureModel: (CostFigures & { feature: string; model: string })[];
  /** Per UTC day, oldest first; every day of the window is present (zero when nothing happened). */
  byDay: (CostFigures & { day: string })[];
}

interface Acc {
  results: number;
  batchResults: number;
  realtimeResults: number;
  tokens: TokenCounts;
  costNano: number;
  listNano: number;
  usResults: number;
  usPremiumNano: number;
}

const emptyAcc = (): Acc => ({
  results: 0,
  batchResults: 0,
  realtimeResults: 0,
  tokens: { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 },
  costNano: 0,
  listNano: 0,
  usResults: 0,
  usPremiumNano: 0,
});

function add(acc: Acc, row: LedgerRow) {
  acc.results += row.results;
  if (row.mode === 'batch') acc.batchResults += row.results;
  else acc.realtimeResults += row.results;
  acc.tokens.input += row.tokens.input;
  acc.tokens.cacheWrite5m += row.tokens.cacheWrite5m;
  acc.tokens.cacheWrite1h += row.tokens.cacheWrite1h;
  acc.tokens.cacheRead += row.tokens.cacheRead;
  acc.tokens.output += row.tokens.output;
  acc.costNano += row.costNano;
  acc.listNano += row.listNano;
  acc.usResults += row.usResults;
  acc.usPremiumNano += row.usPremiumNano;
}

// Sums stay in integer nano-dollars until here, so totals are exact and equal the sum of their parts.
function figures(acc: Acc): CostFigures {
  return {
    results: acc.results,
    batchResults: acc.batchResults,
    realtimeResults: acc.realtimeResults,
    tokens: acc.tokens,
    costUsd: fromNano(acc.costNano),
    realtimeEquivalentUsd: fromNano(acc.listNano),
    savingsUsd: fromNano(acc.listNano - acc.costNano),
    usInferenceResults: acc.usResults,
    usPremiumUsd: fromNano(acc.usPremiumNano),
  };
}

function groupBy<K extends string>(
  rows: LedgerRow[],
  keyOf: (r: LedgerRow) => string,
  label: (k: string) => Record<K, string>,
) {
  const map = new Map<string, Acc>();
  for (const r of rows) {
    const k = keyOf(r);
    const acc = map.get(k) ?? emptyAcc();
    map.set(k, acc);
    add(acc, r);
  }
  return [...map.entries()]
    .sort((a, b) => b[1].costNano - a[1].costNano || a[0].localeCompare(b[0]))
    .map(([k, acc]) => ({ ...label(k), ...figures(acc) }));
}

/**
 * Reads the cost ledger (written once per succeeded result by the apply script) for the last `days`
 * UTC days and aggregates it per feature, per model, per feature and model, and per day.
 * Errored, expired and canceled results cost nothing and do not appear.
 */
export async function costReport(
  store: Store,
  opts: { days: 1 | 7 | 30; now?: number },
): Promise<CostReport> {
  const now = opts.now ?? Date.now();
  const dayList: string[] = [];
  for (let i = opts.days - 1; i >= 0; i--) dayList.push(utcDay(now - i * DAY_MS));
  const rows = await store.ledger.rows(dayList);
  const total = emptyAcc();
  for (const r of rows) add(total, r);
  const perDay = new Map(dayList.map((d) => [d, emptyAcc()]));
  for (const r of rows) add(perDay.get(r.day)!, r);
  return {
    days: opts.days,
    from: dayList[0]!,
    to: dayList[dayList.length - 1]!,
    totals: figures(total),
    byFeature: groupBy(
      rows,
      (r) => r.feature,
      (feature) => ({ feature }),
    ),
    byModel: groupBy(
      rows,
      (r) => r.model,
      (model) => ({ model }),
    ),
    byFeatureModel: groupBy(
      rows,
      (r) => `${r.feature}\u0000${r.model}`,
      (k) => {
        const [feature, model] = k.split('\u0000') as [string, string];
        return { feature, model };
      },
    ),
    byDay: dayList.map((day) => ({ day, ...figures(perDay.get(day)!) })),
  };
}
