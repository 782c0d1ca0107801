import type { BatchFields } from '@nightshift/shared';
import { ensureTrackingJobs as ensureJobs } from '@nightshift/store';
import type { Ctx, SweepReport } from './types.js';

/**
 * Every batch in flight must have a live tracking job (the store's `ensureTrackingJobs`, which the
 * batcher runs at start-up too); the ids added go into the sweep's report.
 */
export async function ensureTrackingJobs(ctx: Ctx, batches: BatchFields[], report: SweepReport) {
  const inFlight = (id: string) => ctx.store.batches.isInflight(id);
  report.trackingJobsAdded.push(...(await ensureJobs(ctx.queues.batches, batches, inFlight, ctx.log)));
}
