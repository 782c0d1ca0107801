import type Anthropic from '@anthropic-ai/sdk';
import type { BatchFields, FlushReason } from '@nightshift/shared';
import { addTrackingJob, ensureTrackingJobs as ensureJobs, trackingJobData } from '@nightshift/store';
import { activeTraceparent } from '@nightshift/telemetry';

import type { FlushContext, FlushState } from './context.js';
import type { SubmittedBatch } from './events.js';

type MessageBatch = Anthropic.Messages.MessageBatch;

/** A submission about to be recorded as a batch. */
export interface CommitInput {
  subId: string;
  partition: string;
  reason: FlushReason;
  count: number;
  bytes: number;
  startedAt: number;
}

/**
 * Records that a submission became `batch` (commit Lua: batch record, in-flight set, submission
 * submitted), adds its `{batches}` tracking job, and logs the flush record. `origin` 'adopted'
 * marks a batch found by reconciliation rather than returned by create.
 */
export async function commitBatch(
  ctx: FlushContext,
  state: FlushState | null,
  input: CommitInput,
  batch: MessageBatch,
  origin: '' | 'adopted',
): Promise<SubmittedBatch> {
  const { store, opts } = ctx;
  const now = opts.now();
  const before = await store.submissions.commit(
    input.subId,
    batch,
    { count: input.count, bytes: input.bytes, partition: input.partition, reason: input.reason, origin },
    now,
  );
  await ctx.hooks.afterCommit?.(input.subId, batch.id);
  await trackBatch(ctx, { ...input, batchId: batch.id, submittedAt: now });
  const record: SubmittedBatch = {
    batchId: batch.id,
    submissionId: input.subId,
    partition: input.partition,
    reason: input.reason,
    requestCount: input.count,
    bytes: input.bytes,
    origin,
    durationMs: now - input.startedAt,
  };
  await store.flushLog.record({ ...record, at: now, instance: opts.instance, commit: before });
  ctx.log.info(
    {
      batchId: batch.id,
      submissionId: input.subId,
      partition: input.partition,
      count: input.count,
      bytes: input.bytes,
      reason: input.reason,
      origin: origin || 'created',
      durationMs: record.durationMs,
    },
    origin === 'adopted' ? 'batch adopted' : 'batch submitted',
  );
  if (state) {
    state.report.batches.push(record);
    if (origin === '') await afterSuccessfulCreate(ctx, state);
  }
  ctx.emit(origin === 'adopted' ? 'batch:adopted' : 'batch:submitted', record);
  return record;
}

/** A create went through: the backoff ends, and a probe after a billing stop closes the circuit. */
async function afterSuccessfulCreate(ctx: FlushContext, state: FlushState) {
  await ctx.store.backoff.clear();
  if (state.probe) {
    await ctx.store.circuit.close();
    state.probe = false;
    ctx.log.info('circuit closed: the probe batch was accepted');
  }
}

/** Adds the `{batches}` tracking job (deterministic id: adding it twice is a no-op). */
async function trackBatch(
  ctx: FlushContext,
  b: CommitInput & { batchId: string; submittedAt: number },
): Promise<void> {
  const batch = { id: b.batchId, sub: b.subId, partition: b.partition, reason: b.reason };
  const data = trackingJobData(
    { ...batch, count: b.count, bytes: b.bytes, submitted: b.submittedAt },
    // The create span's context (when traced): the collector's polls of this batch link to it.
    activeTraceparent(),
  );
  await addTrackingJob(ctx.batchesQueue, data);
}

/** Puts a submission's requests back in the queue and reports it. */
export async function releaseSubmission(
  ctx: FlushContext,
  state: FlushState | null,
  subId: string,
  why: string,
): Promise<number> {
  const count = await ctx.store.submissions.release(subId, { now: ctx.opts.now() });
  if (state) state.report.released += count;
  ctx.log.info({ submissionId: subId, count, why }, 'submission released');
  ctx.emit('submission:released', { submissionId: subId, count, why });
  return count;
}

/**
 * Adds tracking jobs for batches in flight that lack a live one (a crash between commit and the
 * job add): the store's `ensureTrackingJobs`, which the collector's sweep runs too.
 */
export async function ensureTrackingJobs(ctx: FlushContext): Promise<number> {
  const ids = await ctx.store.batches.inflightIds();
  const batches = (await Promise.all(ids.map((id) => ctx.store.batches.get(id)))).filter(
    (b): b is BatchFields => b !== null,
  );
  const inFlight = (id: string) => ctx.store.batches.isInflight(id);
  const added = await ensureJobs(ctx.batchesQueue, batches, inFlight, ctx.log);
  if (added.length)
    ctx.log.warn({ added: added.length }, 'added missing tracking jobs for batches in flight');
  return added.length;
}
