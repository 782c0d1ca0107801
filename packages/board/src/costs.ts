import {
  DEFAULT_PRICES,
  type ModelLifecycle,
  modelLifecycle,
  type PriceTable,
  priceFor,
} from '@nightshift/shared';
import { type CostFigures, type CostReport, costReport, type Store } from '@nightshift/store';

/** The windows the board offers (the store's `costReport` windows). */
export const COST_WINDOWS = [1, 7, 30] as const;
/** 1, 7 or 30 (days). */
export type CostWindow = (typeof COST_WINDOWS)[number];

/**
 * The store's cost report, plus the models that have no price (their cost counts as 0) and the
 * models of the window that are deprecated or retired (per the price table).
 */
export type BoardCostReport = CostReport & {
  unpricedModels: string[];
  lifecycle: Record<string, Exclude<ModelLifecycle, { state: 'active' | 'unknown' }>>;
};

/** One bar or row: a feature, a model or the total. */
export type CostLine = CostFigures & {
  key: string;
  unpriced?: boolean;
  lifecycle?: BoardCostReport['lifecycle'][string];
};

/** Cost and savings of the window, from the store's ledger. */
export async function loadCosts(
  store: Store,
  opts: { days: CostWindow; now: number; prices?: PriceTable },
): Promise<BoardCostReport> {
  const report = await costReport(store, { days: opts.days, now: opts.now });
  const table = opts.prices ?? DEFAULT_PRICES;
  const unpricedModels = report.byModel.filter((m) => !priceFor(m.model, table)).map((m) => m.model);
  const lifecycle: BoardCostReport['lifecycle'] = {};
  for (const { model } of report.byModel) {
    const life = modelLifecycle(model, table, opts.now);
    if (life.state === 'deprecated' || life.state === 'retired') lifecycle[model] = life;
  }
  return { ...report, unpricedModels, lifecycle };
}

/** Lines keyed by feature or model, flagged when a model has no price. */
export function costLines(report: BoardCostReport, by: 'feature' | 'model'): CostLine[] {
  const unpriced = new Set(report.unpricedModels);
  if (by === 'feature') return report.byFeature.map((f) => ({ ...f, key: f.feature }));
  return report.byModel.map((m) => {
    const life = report.lifecycle[m.model];
    return {
      ...m,
      key: m.model,
      ...(unpriced.has(m.model) ? { unpriced: true } : {}),
      ...(life ? { lifecycle: life } : {}),
    };
  });
}
