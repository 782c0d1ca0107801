import { STORE_LAYOUT } from '@nightshift/store';
import type { CliContext } from '../context.js';

/**
 * `migrate`: brings the store to this version's layout (ARCHITECTURE.md "Store layout and
 * upgrades"). Idempotent, and safe while the roles run: run it once after an upgrade, and again to
 * finish what it had to keep (result jobs a webhook may still read). The migration runs even on a
 * store that records the current layout already: the first run records it while keeping those
 * jobs, and the run a day later is what removes them.
 */
export async function migrate(ctx: CliContext): Promise<number> {
  const before = await ctx.store.layout.read();
  const report = await ctx.store.layout.migrate({
    onProgress: (r) => {
      if (!ctx.json) ctx.err(`… ${r.resultJobs} result jobs read, ${r.compacted} records compacted`);
    },
  });
  if (ctx.json) {
    ctx.out(JSON.stringify({ ...report, upToDate: true }));
    return 0;
  }
  const current = before.recorded && before.version === STORE_LAYOUT;
  if (current && report.compacted === 0 && report.removedJobs === 0)
    ctx.out(`The store is at layout ${STORE_LAYOUT} already: nothing to migrate.`);
  else if (current)
    ctx.out(
      `The store is at layout ${STORE_LAYOUT}: ${report.compacted} delivered records compacted, ${report.removedJobs} completed result jobs removed.`,
    );
  else
    ctx.out(
      `Store migrated from layout ${report.from} to ${report.to}: ${report.compacted} delivered records compacted, ${report.removedJobs} completed result jobs removed.`,
    );
  // On a store migrated before, the jobs kept are those of today's result workers (kept a day for
  // the webhooks, then removed by BullMQ): nothing to come back for.
  if (!current && report.keptForWebhooks > 0)
    ctx.out(
      `${report.keptForWebhooks} result jobs finished in the last day were kept for webhook endpoints subscribed to request.succeeded; run \`nightshift migrate\` again tomorrow to remove them.`,
    );
  return 0;
}
