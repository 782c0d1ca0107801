import { type CliContext, UsageError } from '../context.js';

const BATCH_ID = /^msgbatch_[A-Za-z0-9]{1,100}$/;

/** Cancels a batch at the API; the collector then applies its partial results and requeues the rest. */
export async function cancel(ctx: CliContext, batchId: string | undefined): Promise<number> {
  if (!batchId) throw new UsageError('cancel needs a batch id, e.g. nightshift cancel msgbatch_01Hk…');
  if (!BATCH_ID.test(batchId))
    throw new UsageError(
      `"${batchId}" is not a batch id (expected msgbatch_ followed by letters and digits)`,
    );
  const known = await ctx.store.batches.get(batchId);
  if (!known) {
    ctx.err(`Batch ${batchId} is not known to Nightshift (see: nightshift batches).`);
    return 1;
  }
  const batch = await ctx.anthropic().messages.batches.cancel(batchId);
  await ctx.store.batches.update(batchId, { status: batch.processing_status });
  if (ctx.json) ctx.out(JSON.stringify(batch, null, 2));
  else
    ctx.out(
      `Batch ${batchId}: ${batch.processing_status}. The collector will apply what finished and requeue the rest.`,
    );
  return 0;
}
