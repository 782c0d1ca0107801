import { DEFAULT_PRICES, type PriceTable, priceFor } from '@nightshift/shared';
import { type CostFigures, type CostReport, costReport, type Store } from '@nightshift/store';

/** The windows the board offers (the store's `costReport` windows). */
export const COST_WINDOWS = [1, 7, 30] as const;
/** 1, 7 or 30 (days). */
export type CostWindow = (typeof COST_WINDOWS)[number];

/** The store's cost report, plus the models that have no price (their cost counts as 0). */
export type BoardCostReport = CostReport & { unpricedModels: string[] };

/** One bar or row: a feature, a model or the total. */
export type CostLine = CostFigures & { key: string; unpriced?: boolean };

/** Cost and savings of the window, from the store's ledger. */
export async function loadCosts(
  store: Store,
  opts: { days: CostWindow; now: number; prices?: PriceTable },
): Promise<BoardCostReport> {
  const report = await costReport(store, { days: opts.days, now: opts.now });
  const table = opts.prices ?? DEFAULT_PRICES;
  const unpricedModels = report.byModel.filter((m) => !priceFor(m.model, table)).map((m) => m.model);
  return { ...report, unpricedModels };
}

/** Lines keyed by feature or model, flagged when a model has no price. */
export function costLines(report: BoardCostReport, by: 'feature' | 'model'): CostLine[] {
  const unpriced = new Set(report.unpricedModels);
  if (by === 'feature') return report.byFeature.map((f) => ({ ...f, key: f.feature }));
  return report.byModel.map((m) => ({
    ...m,
    key: m.model,
    ...(unpriced.has(m.model) ? { unpriced: true } : {}),
  }));
}
