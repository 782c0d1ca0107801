import type { Ctx } from './types.js';

const DAY = 86_400_000;

/** The collector's retention pass: what the store keeps past `retentionDays` is deleted (see the store's retention.ts). */
export async function purge(ctx: Ctx): Promise<{ records: number; submissions: number; batches: number }> {
  const now = ctx.now();
  const purged = await ctx.store.retention.purgeBefore(now - ctx.opts.retentionDays * DAY, now);
  const { records, batches, submissions } = purged;
  if (records + batches + submissions > 0) {
    ctx.log.info({ records, batches, submissions, retentionDays: ctx.opts.retentionDays }, 'retention purge');
  }
  return purged;
}
