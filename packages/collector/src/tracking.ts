import { type BatchFields, jobIds } from '@nightshift/shared';
import type { TrackingData } from './poll.js';
import type { Ctx, SweepReport } from './types.js';

/** The tracking job's data, rebuilt from the batch record (the batcher writes the same fields). */
export function trackingData(b: BatchFields): TrackingData {
  return {
    batchId: b.id,
    submissionId: b.sub,
    requestCount: Number(b.count) || 0,
    bytes: Number(b.bytes) || 0,
    partition: b.partition ?? '',
    reason: b.reason,
    submittedAt: Number(b.submitted) || 0,
  };
}

/**
 * Every batch in flight must have a live tracking job. A crash between the batcher's commit and its
 * job add leaves none; a job that finished (or failed) while its batch is still in flight is replaced.
 */
export async function ensureTrackingJobs(ctx: Ctx, batches: BatchFields[], report: SweepReport) {
  const q = ctx.queues.batches;
  for (const b of batches) {
    const jobId = jobIds.batch(b.id);
    const state = await q.getJobState(jobId);
    if (state !== 'unknown' && state !== 'completed' && state !== 'failed') continue;
    if (state !== 'unknown') {
      // Read the state first, then membership: a job completes only after its batch left flight.
      if (!(await ctx.store.batches.isInflight(b.id))) continue;
      const old = await q.getJob(jobId);
      ctx.log.warn(
        { batchId: b.id, state, failedReason: old?.failedReason },
        'tracking job finished while its batch is in flight; replacing it',
      );
      await q.remove(jobId);
    }
    await q.add('batch', trackingData(b), { jobId });
    report.trackingJobsAdded.push(b.id);
  }
}
