import type Anthropic from '@anthropic-ai/sdk';
import {
  type BatchFields,
  type BatchJobData,
  circuitFor,
  classifyApiError,
  describeFailure,
  parseJson,
  RESULTS_ARCHIVE_MS,
} from '@nightshift/shared';
import { ATTR, inSpan, linksTo, SPANS, type Span, SpanKind } from '@nightshift/telemetry';
import { DelayedError, type Job } from 'bullmq';
import { clearBatchAlerts, raiseAlert } from './alerts.js';
import { stopSubmissions } from './apply.js';
import { streamResults } from './apply-results.js';
import type { BatchScope } from './decide.js';
import { isNotFound } from './errors.js';
import { requeueLost, requeueMissing } from './members.js';
import type { ResolvedOptions } from './options.js';
import { type ApplyCounts, type BatchOutcome, type Ctx, emptyCounts } from './types.js';

type MessageBatch = Anthropic.Messages.MessageBatch;

/** The data of a `{batches}` tracking job: what the batcher wrote plus the collector's step state. */
export interface TrackingData extends BatchJobData {
  /** Consecutive transient failures (reset by a successful poll). */
  transient?: number;
  /** Complete-looking result streams that had fewer lines than the batch's request counts. */
  shortReads?: number;
  lastError?: string;
}

const HOUR = 3_600_000;
/** After the grace period, this many 404s in a row (re-checked quickly) mean the batch is gone. */
const LOST_AFTER_404S = 3;
/** A stream with fewer lines than the counts is re-read this often before missing lines are requeued. */
const MAX_SHORT_READS = 3;

/** Poll interval of a batch of the given age: pollMs, doubling per hour in progress, capped. */
function pollInterval(opts: Pick<ResolvedOptions, 'pollMs' | 'maxPollMs'>, ageMs: number): number {
  const hours = Math.max(0, Math.floor(ageMs / HOUR));
  return Math.min(opts.maxPollMs, opts.pollMs * 2 ** Math.min(hours, 30));
}

/**
 * The processor of `{batches}`: one step of the step-job pattern. Each run polls the batch once and
 * either re-delays the job (not ended, or a transient failure) or applies the results and finishes.
 * BullMQ's lock on the job keeps two collectors from working on one batch at once.
 */
export function createBatchProcessor(ctx: Ctx) {
  return (job: Job<TrackingData>, token?: string): Promise<BatchOutcome> =>
    inSpan(
      SPANS.poll,
      {
        kind: SpanKind.CONSUMER,
        attributes: { [ATTR.batchId]: job.data.batchId },
        links: linksTo(job.data.trace),
      },
      (span) => step(ctx, job, token, span),
    );
}

/** One run of a tracking job (see {@link createBatchProcessor}), inside its poll span. */
async function step(
  ctx: Ctx,
  job: Job<TrackingData>,
  token: string | undefined,
  span: Span,
): Promise<BatchOutcome> {
  const { batchId } = job.data;
  const rec = await ctx.store.batches.get(batchId);
  if (!rec) {
    ctx.log.warn({ batchId }, 'tracking job for a batch the store does not know (purged); finished');
    return { batchId, outcome: 'unknown-batch' };
  }
  if (rec.state === 'collected' || rec.state === 'lost') {
    const counts = parseJson<ApplyCounts | undefined>(rec.counts, undefined);
    return { batchId, outcome: rec.state, ...(counts ? { counts } : {}) };
  }
  let batch: MessageBatch;
  const sent = performance.now();
  const polled = (outcome: string) => {
    span.setAttribute(ATTR.status, outcome);
    ctx.emit('batch:polled', { batchId, outcome, durationMs: performance.now() - sent });
  };
  try {
    batch = await ctx.client.messages.batches.retrieve(
      batchId,
      {},
      { timeout: ctx.opts.requestTimeoutMs, signal: ctx.signal },
    );
  } catch (err) {
    if (isNotFound(err) && !ctx.signal.aborted) {
      polled('not-found');
      return onNotFound(ctx, job, token, rec);
    }
    if (!ctx.signal.aborted) polled(classifyApiError(err).family);
    return retryLater(ctx, job, token, 'retrieve', err);
  }
  polled(batch.processing_status);
  ctx.lastPollAt = Math.max(ctx.lastPollAt, ctx.now());
  if (batch.processing_status !== 'ended') return waitMore(ctx, job, token, rec, batch);
  return collect(ctx, job, token, rec, batch);
}

async function delayJob(job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}

async function waitMore(
  ctx: Ctx,
  job: Job<TrackingData>,
  token: string | undefined,
  rec: BatchFields,
  batch: MessageBatch,
): Promise<never> {
  const polls = (job.data.polls ?? 0) + 1;
  await job.updateData({
    ...job.data,
    polls,
    lastStatus: batch.processing_status,
    counts: batch.request_counts as unknown as Record<string, number>,
    notFound: 0,
    transient: 0,
  });
  await job.updateProgress({ status: batch.processing_status, polls });
  if (rec.status !== batch.processing_status) {
    await ctx.store.batches.update(rec.id, { status: batch.processing_status });
  }
  const created = Date.parse(batch.created_at) || Number(rec.submitted) || ctx.now();
  return delayJob(job, token, pollInterval(ctx.opts, ctx.now() - created));
}

async function onNotFound(
  ctx: Ctx,
  job: Job<TrackingData>,
  token: string | undefined,
  rec: BatchFields,
): Promise<BatchOutcome> {
  const now = ctx.now();
  const since = Number(rec.submitted) || job.data.submittedAt || now;
  const inGrace = now - since < ctx.opts.notFoundGraceMs;
  const notFound = (job.data.notFound ?? 0) + 1;
  if (!inGrace && notFound >= LOST_AFTER_404S) {
    return markLost(
      ctx,
      rec,
      'not-found',
      `Batch ${rec.id} answers 404 ${Math.round((now - since) / 60_000)} min after submission.`,
    );
  }
  await job.updateData({ ...job.data, notFound });
  ctx.log.info({ batchId: rec.id, notFound, inGrace }, 'batch not found at the API (yet); polling again');
  // Within the grace period a 404 is propagation delay; after it, re-check quickly before giving up.
  return delayJob(job, token, inGrace ? ctx.opts.pollMs : ctx.opts.transientRetryMs);
}

/**
 * Keeps the job alive through any failure: it re-delays itself with backoff rather than failing, so
 * a batch is never dropped. On close() it is handed back at once for another collector to take.
 * By the shared classification: a rate limit waits at least its `retry-after`; an account, key or
 * billing refusal also stops submissions (the batch exists and is read again once it lifts); a
 * definite refusal of another kind is reported; anything else (5xx, connection, a stream cut) is
 * logged as transient.
 */
async function retryLater(
  ctx: Ctx,
  job: Job<TrackingData>,
  token: string | undefined,
  what: string,
  err: unknown,
): Promise<never> {
  if (ctx.signal.aborted) return delayJob(job, token, 0);
  const transient = (job.data.transient ?? 0) + 1;
  const failure = classifyApiError(err);
  const backoff = Math.min(ctx.opts.maxPollMs, ctx.opts.transientRetryMs * 2 ** Math.min(transient - 1, 20));
  const delay = Math.max(backoff, failure.retryAfterMs ?? 0);
  const e = describeFailure(failure);
  await job.updateData({
    ...job.data,
    transient,
    lastError: `${what}: ${e.type}${e.code ? ` (${e.code})` : ''}: ${e.message}`.slice(0, 500),
  });
  const log = { batchId: job.data.batchId, what, err: e, transient, delay };
  switch (failure.family) {
    case 'account':
    case 'permission':
    case 'billing':
      await stopSubmissions(ctx, circuitFor(failure), `${what} of batch ${job.data.batchId}`, ctx.now());
      ctx.log.warn(log, 'the API refused to read the batch; retrying once the refusal lifts');
      break;
    case 'rate-limit':
    case 'temporary':
    case 'ambiguous':
      ctx.log.warn(log, 'transient failure; retrying');
      break;
    default:
      ctx.reportError(err, `${what} of batch ${job.data.batchId}`);
  }
  return delayJob(job, token, delay);
}

async function collect(
  ctx: Ctx,
  job: Job<TrackingData>,
  token: string | undefined,
  rec: BatchFields,
  batch: MessageBatch,
): Promise<BatchOutcome> {
  const id = rec.id;
  if (rec.state === 'submitted') {
    const ended = Date.parse(batch.ended_at ?? '') || ctx.now();
    await ctx.store.batches.update(id, {
      state: 'ended',
      status: 'ended',
      ended,
      counts: JSON.stringify(batch.request_counts),
    });
    const createdAt = Date.parse(batch.created_at) || Number(rec.submitted) || ended;
    ctx.emit('batch:ended', { batchId: id, counts: batch.request_counts, createdAt, endedAt: ended });
  }
  if (batch.archived_at) {
    return markLost(
      ctx,
      rec,
      'archived',
      `The results of batch ${id} were archived before they were applied.`,
    );
  }
  await ctx.store.batches.update(id, { state: 'applying' });
  const epoch = ctx.redisEpoch();
  const scope: BatchScope = { batchId: id, subId: rec.sub, onlySuccesses: rec.origin === 'duplicate' };
  const counts = emptyCounts();
  const expected = ['succeeded', 'errored', 'canceled', 'expired'].reduce(
    (n, k) => n + (batch.request_counts[k as keyof typeof batch.request_counts] ?? 0),
    0,
  );
  try {
    await streamResults(ctx, scope, counts);
    const shortReads = job.data.shortReads ?? 0;
    if (counts.lines < expected && shortReads < MAX_SHORT_READS) {
      await job.updateData({ ...job.data, shortReads: shortReads + 1 });
      throw new Error(`results stream ended after ${counts.lines} of ${expected} lines`);
    }
    await requeueMissing(ctx, scope, counts);
    assertSameConnection(ctx, epoch, id);
  } catch (err) {
    const archived = ctx.now() >= (Date.parse(batch.created_at) || 0) + RESULTS_ARCHIVE_MS;
    if (isNotFound(err) && archived && !ctx.signal.aborted) {
      return markLost(ctx, rec, 'archived', `The results of batch ${id} are no longer available (29 days).`);
    }
    return retryLater(ctx, job, token, `results (after ${counts.lines} lines)`, err);
  }
  await ctx.store.batches.markCollected(id, counts as unknown as Record<string, number>, ctx.now());
  try {
    assertSameConnection(ctx, epoch, id);
  } catch (err) {
    // The reconnect came while marking it collected: that may have stayed while effects before it
    // were lost. Back in flight, and the pass is redone.
    await ctx.store.batches.update(id, { state: 'applying' });
    await ctx.store.batches.returnToFlight(id);
    return retryLater(ctx, job, token, 'collected', err);
  }
  return finish(ctx, id, counts);
}

/**
 * A pass over a batch is several round trips (chunk after chunk: dead letters added, results applied,
 * result jobs added; then missing members; then collected). When Redis lost its last writes while the pass went on (an OS
 * crash under `appendfsync everysec`, a failover), earlier steps may be gone while later ones stay:
 * a record final without its job, members left claimed behind a collected batch. Any reconnect
 * during the pass makes it be redone from the start; every step is idempotent, and lines already
 * applied get their missing jobs back (`repairApplied`). Found by the chaos suite (redis-everysec).
 */
function assertSameConnection(ctx: Ctx, epoch: number, batchId: string) {
  if (ctx.redisEpoch() !== epoch) {
    throw new Error(`Redis reconnected while batch ${batchId} was applied; applying it again to be sure`);
  }
}

async function finish(ctx: Ctx, id: string, counts: ApplyCounts): Promise<BatchOutcome> {
  await clearBatchAlerts(ctx, id);
  if (ctx.opts.deleteAfterCollect) {
    try {
      await ctx.client.messages.batches.delete(id, {}, { timeout: ctx.opts.requestTimeoutMs });
      await ctx.store.batches.update(id, { status: 'deleted' });
    } catch (err) {
      // Not fatal: the API archives results after 29 days anyway.
      const e = describeFailure(classifyApiError(err));
      ctx.log.warn({ batchId: id, err: e }, 'could not delete the batch at the API');
    }
  }
  ctx.log.info({ batchId: id, counts }, 'batch collected');
  ctx.emit('results:applied', { batchId: id, counts });
  return { batchId: id, outcome: 'collected', counts };
}

/** The batch is gone: held members back to the queue (no attempt spent), batch out of flight, alert. */
async function markLost(
  ctx: Ctx,
  rec: BatchFields,
  reason: 'not-found' | 'archived',
  message: string,
): Promise<BatchOutcome> {
  const counts = emptyCounts();
  const scope = { batchId: rec.id, subId: rec.sub, onlySuccesses: rec.origin === 'duplicate' };
  await requeueLost(ctx, scope, counts, message);
  const now = ctx.now();
  await ctx.store.batches.markLost(rec.id, counts as unknown as Record<string, number>, now);
  await clearBatchAlerts(ctx, rec.id);
  await raiseAlert(
    ctx,
    { code: 'batch-lost', batchId: rec.id, message: `${message} Its requests were requeued.` },
    now,
  );
  ctx.log.error({ batchId: rec.id, reason, requeued: counts.held }, message);
  return { batchId: rec.id, outcome: 'lost', reason, counts };
}
