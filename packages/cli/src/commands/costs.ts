import { costReport } from '@nightshift/store';
import type { CliContext } from '../context.js';
import { table, usd } from '../format.js';

/** Cost and savings per feature and model over the last 1, 7 or 30 days. */
export async function costs(ctx: CliContext, days: 1 | 7 | 30): Promise<number> {
  const report = await costReport(ctx.store, { days });
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return 0;
  }
  const t = report.totals;
  ctx.out(
    `Last ${days} day(s), ${report.from} … ${report.to}: ${t.results} results, paid ${usd(t.costUsd)}, ` +
      `real-time would have cost ${usd(t.realtimeEquivalentUsd)}, saved ${usd(t.savingsUsd)}`,
  );
  ctx.out(
    table(
      report.byFeatureModel.map((r) => ({
        feature: r.feature,
        model: r.model,
        results: r.results,
        paid: usd(r.costUsd),
        realtime: usd(r.realtimeEquivalentUsd),
        saved: usd(r.savingsUsd),
      })),
    ),
  );
  return 0;
}
