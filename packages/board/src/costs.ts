import { fromNano, type PriceTable, priceFor } from '@nightshift/shared';
import { type LedgerRow, type Store, utcDay } from '@nightshift/store';

const DAY_MS = 86_400_000;

/** Cost figures of one feature, one model, or the total, in US dollars. */
export interface CostLine {
  /** The feature or model (`'total'` for the sum). */
  key: string;
  /** Results counted (batch + real-time). */
  results: number;
  batchResults: number;
  realtimeResults: number;
  /** What was paid. */
  cost: number;
  /** The same tokens at list (real-time) price. */
  realtimeEquivalent: number;
  /** realtimeEquivalent − cost. */
  savings: number;
  /** True when a model of this line has no price (its cost counts as 0). */
  unpriced?: boolean;
}

/** Cost and savings over the last `days` UTC days (today included). */
export interface CostReportView {
  days: number;
  /** First and last UTC day of the window (yyyy-mm-dd). */
  from: string;
  to: string;
  total: CostLine;
  byFeature: CostLine[];
  byModel: CostLine[];
}

/** The UTC days of the window, oldest first. */
export function windowDays(days: number, now: number): string[] {
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) out.push(utcDay(now - i * DAY_MS));
  return out;
}

const emptyLine = (key: string): CostLine => ({
  key,
  results: 0,
  batchResults: 0,
  realtimeResults: 0,
  cost: 0,
  realtimeEquivalent: 0,
  savings: 0,
});

function add(line: CostLine, row: LedgerRow, unpriced: boolean) {
  line.results += row.results;
  if (row.mode === 'batch') line.batchResults += row.results;
  else line.realtimeResults += row.results;
  line.cost += fromNano(row.costNano);
  line.realtimeEquivalent += fromNano(row.listNano);
  line.savings = line.realtimeEquivalent - line.cost;
  if (unpriced) line.unpriced = true;
}

/** Sums ledger rows into totals per feature and per model, largest real-time equivalent first. */
export function summarizeLedger(
  rows: LedgerRow[],
  window: { days: number; from: string; to: string },
  prices?: PriceTable,
): CostReportView {
  const total = emptyLine('total');
  const features = new Map<string, CostLine>();
  const models = new Map<string, CostLine>();
  for (const row of rows) {
    const unpriced = prices
      ? priceFor(row.model, prices) === undefined
      : row.listNano === 0 && row.results > 0;
    const f = features.get(row.feature) ?? emptyLine(row.feature);
    const m = models.get(row.model) ?? emptyLine(row.model);
    features.set(row.feature, f);
    models.set(row.model, m);
    add(f, row, unpriced);
    add(m, row, unpriced);
    add(total, row, unpriced);
  }
  const order = (a: CostLine, b: CostLine) =>
    b.realtimeEquivalent - a.realtimeEquivalent || a.key.localeCompare(b.key);
  return {
    ...window,
    total,
    byFeature: [...features.values()].sort(order),
    byModel: [...models.values()].sort(order),
  };
}

/**
 * Cost and savings per feature and per model for the last `days` UTC days, from the store's ledger.
 * (A local twin of the store's `costReport`, shaped for the board's pages and JSON.)
 */
export async function costReportFor(
  store: Store,
  opts: { days: number; now: number; prices?: PriceTable },
): Promise<CostReportView> {
  const list = windowDays(opts.days, opts.now);
  const rows = await store.ledger(list);
  return summarizeLedger(rows, { days: opts.days, from: list[0]!, to: list[list.length - 1]! }, opts.prices);
}
