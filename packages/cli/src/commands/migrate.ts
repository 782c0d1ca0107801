import { STORE_LAYOUT } from '@nightshift/store';
import type { CliContext } from '../context.js';

/**
 * `migrate`: brings the store to this version's layout (ARCHITECTURE.md "Store layout and
 * upgrades"). Idempotent, and safe while the roles run: run it once after an upgrade, and again to
 * finish what it had to keep (result jobs a webhook may still read).
 */
export async function migrate(ctx: CliContext): Promise<number> {
  const before = await ctx.store.layout.read();
  if (before.recorded && before.version === STORE_LAYOUT) {
    if (ctx.json) ctx.out(JSON.stringify({ from: before.version, to: STORE_LAYOUT, upToDate: true }));
    else ctx.out(`The store is at layout ${STORE_LAYOUT} already: nothing to migrate.`);
    return 0;
  }
  const report = await ctx.store.layout.migrate({
    onProgress: (r) => {
      if (!ctx.json) ctx.err(`… ${r.resultJobs} result jobs read, ${r.compacted} records compacted`);
    },
  });
  if (ctx.json) ctx.out(JSON.stringify({ ...report, upToDate: true }));
  else {
    ctx.out(
      `Store migrated from layout ${report.from} to ${report.to}: ${report.compacted} delivered records compacted, ${report.removedJobs} completed result jobs removed.`,
    );
    if (report.keptForWebhooks > 0)
      ctx.out(
        `${report.keptForWebhooks} result jobs finished in the last day were kept for webhook endpoints subscribed to request.succeeded; run \`nightshift migrate\` again tomorrow to remove them.`,
      );
  }
  return 0;
}
