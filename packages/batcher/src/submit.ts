import type Anthropic from '@anthropic-ai/sdk';
import { assertNever, circuitFor, describeFailure, failureName } from '@nightshift/shared';
import { ATTR, inSpan, SPANS, type Span, SpanKind, SpanStatusCode } from '@nightshift/telemetry';

import type { ClaimedBatch } from './claim.js';
import { commitBatch, releaseSubmission } from './commit.js';
import type { FlushContext, FlushState } from './context.js';
import { openSubmission } from './context.js';
import { type CreateFailure, classifyCreateError } from './create-errors.js';
import type { CreateAnswer } from './events.js';
import { findCreatedBatch } from './reconcile.js';
import { deadLetterRejected } from './reject.js';

/**
 * Sends one claimed submission to `batches.create` and resolves it: commit on success, or the
 * error path by the failure's family (split, dead-letter the named request and resubmit, release
 * with backoff, reconcile, open the circuit).
 * Steps, in this order (ARCHITECTURE.md "Crash safety of the submit path"): state 'creating' with
 * createAt and a fresh lease → create with the SDK's retries off → commit → tracking job.
 */
export function submitClaimed(ctx: FlushContext, state: FlushState, batch: ClaimedBatch): Promise<void> {
  // The create span is active through the commit, so the tracking job carries its context and the
  // collector's polls link back to it (ARCHITECTURE.md "Metrics and traces").
  const attributes = {
    [ATTR.submissionId]: batch.subId,
    [ATTR.partition]: batch.partition,
    [ATTR.reason]: batch.reason,
    [ATTR.requests]: batch.items.length,
  };
  return inSpan(SPANS.create, { kind: SpanKind.CLIENT, attributes }, (span) =>
    createAndCommit(ctx, state, batch, span),
  );
}

async function createAndCommit(
  ctx: FlushContext,
  state: FlushState,
  batch: ClaimedBatch,
  span: Span,
): Promise<void> {
  const { store, opts } = ctx;
  const createAt = opts.now();
  const count = batch.items.length;
  await store.submissions.update(batch.subId, {
    state: 'creating',
    createAt,
    lease: createAt + opts.submissionLeaseMs,
    count,
    bytes: batch.buf.sumBytes(batch.items),
  });
  // The body streams from the claimed buffers with an exact Content-Length: no copy of the bytes.
  const { stream, length: bytes } = batch.buf.body(batch.items);
  span.setAttribute(ATTR.bytes, bytes);
  const answered = (outcome: CreateAnswer['outcome']) => {
    span.setAttribute(ATTR.outcome, outcome);
    ctx.emit('create:done', {
      submissionId: batch.subId,
      requestCount: count,
      outcome,
      durationMs: performance.now() - sent,
    });
  };
  const sent = performance.now();
  let created: Anthropic.Messages.MessageBatch;
  try {
    created = await opts.client.messages.batches.create({ requests: [] } as never, {
      body: stream,
      // An SDK retry of create carries no idempotency key and could make a second batch: a failed
      // create is judged (and, if ambiguous, reconciled) here instead.
      maxRetries: 0,
      timeout: opts.createTimeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': String(bytes) },
    });
  } catch (err) {
    const failure = classifyCreateError(err);
    answered(failure.family);
    span.setAttributes({ [ATTR.errorFamily]: failure.family, [ATTR.errorCode]: failureName(failure) });
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    await onCreateError(ctx, state, batch, failure, { createAt, bytes });
    return;
  }
  answered('created');
  span.setAttribute(ATTR.batchId, created.id);
  await ctx.hooks.afterCreate?.(batch.subId, created.id);
  await commitBatch(ctx, state, { ...batch, count, bytes }, created, '');
}

async function onCreateError(
  ctx: FlushContext,
  state: FlushState,
  batch: ClaimedBatch,
  failure: CreateFailure,
  attempt: { createAt: number; bytes: number },
): Promise<void> {
  const name = failureName(failure);
  const log = {
    submissionId: batch.subId,
    count: batch.items.length,
    status: failure.status,
    errorCode: name,
    error: failure.message,
  };
  switch (failure.family) {
    case 'too-large':
      if (batch.items.length === 1) {
        await deadLetterRejected(ctx, state, batch.subId, [cidAt(batch, 0)], describeFailure(failure));
        await releaseSubmission(ctx, state, batch.subId, 'empty after rejection');
        return;
      }
      ctx.log.warn(log, 'create refused as too large (413): splitting the submission in two');
      return splitAndSubmit(ctx, state, batch);
    case 'invalid':
      if (failure.requestIndex !== undefined && failure.requestIndex < batch.items.length) {
        return rejectOne(ctx, state, batch, failure.requestIndex, failure);
      }
      // A 400 that names no request refuses the call (a spend limit you set answers so, too).
      return stopSubmissions(ctx, state, batch, failure);
    case 'account':
    case 'permission':
    case 'billing':
      return stopSubmissions(ctx, state, batch, failure);
    case 'rate-limit':
    case 'temporary':
      // A 429, or a coded 503 that refused the call before anything was created: nothing to reconcile.
      await releaseSubmission(ctx, state, batch.subId, `${failure.family} (${failure.status} ${name})`);
      await backoff(ctx, failure.message, failure.retryAfterMs);
      state.stop = 'backoff';
      ctx.log.warn(log, `create refused (${failure.family}): released, backing off`);
      return;
    case 'ambiguous':
      return onAmbiguous(ctx, state, batch, failure.message, attempt);
    case 'not-found':
    case 'refused':
      await releaseSubmission(ctx, state, batch.subId, `refused (${failure.status} ${name})`);
      await backoff(ctx, failure.message);
      state.stop = 'create-failed';
      ctx.emit('error', new Error(`batches.create refused (${failure.status} ${name}): ${failure.message}`));
      return;
    default:
      return assertNever(failure.family);
  }
}

/**
 * The API refused the account, the key, billing or the call itself: nothing is dead-lettered or
 * bisected. The requests go back to the queue and the circuit opens with the code and the fix; the
 * first flush after its cooldown is a probe (one create).
 */
async function stopSubmissions(
  ctx: FlushContext,
  state: FlushState,
  batch: ClaimedBatch,
  failure: CreateFailure,
): Promise<void> {
  const { store, opts } = ctx;
  const opening = circuitFor(failure);
  await releaseSubmission(ctx, state, batch.subId, `refused: ${opening.code}`);
  const { until, opens, opened } = await store.circuit.open(
    { ...opening, cooldownMs: opts.circuitCooldownMs, maxCooldownMs: opts.circuitMaxCooldownMs },
    opts.now(),
  );
  state.stop = 'circuit';
  state.probe = false;
  ctx.log.error(
    {
      submissionId: batch.subId,
      kind: opening.kind,
      errorCode: opening.code,
      reason: opening.reason,
      fix: opening.fix,
      until,
      opens,
    },
    opened
      ? 'create refused: circuit open, submissions stopped, requests kept queued'
      : 'create refused again: circuit stays open',
  );
  ctx.emit('circuit:open', { ...opening, until, opens });
}

/** A 400 that names one request: dead-letter it and submit the rest. */
async function rejectOne(
  ctx: FlushContext,
  state: FlushState,
  batch: ClaimedBatch,
  idx: number,
  failure: CreateFailure,
): Promise<void> {
  await deadLetterRejected(ctx, state, batch.subId, [cidAt(batch, idx)], describeFailure(failure));
  const rest = batch.items.filter((_, i) => i !== idx);
  if (rest.length === 0) {
    await releaseSubmission(ctx, state, batch.subId, 'empty after rejection');
    return;
  }
  return submitClaimed(ctx, state, { ...batch, items: rest, itemBytes: batch.buf.sumBytes(rest) });
}

/**
 * 5xx, timeout, connection error: the batch may exist. Look for it now; adopt it if found.
 * Otherwise keep the submission open ('creating') with a lease of one create timeout, so that
 * recovery looks again once a slow create would have become visible, and back off.
 */
async function onAmbiguous(
  ctx: FlushContext,
  state: FlushState,
  batch: ClaimedBatch,
  message: string,
  { createAt, bytes }: { createAt: number; bytes: number },
): Promise<void> {
  const { store, opts } = ctx;
  const log = { submissionId: batch.subId, count: batch.items.length, error: message };
  let found: Anthropic.Messages.MessageBatch | null = null;
  try {
    found = await findCreatedBatch(ctx, {
      id: batch.subId,
      count: String(batch.items.length),
      createAt: String(createAt),
    });
  } catch (err) {
    ctx.log.warn({ ...log, listError: (err as Error).message }, 'cannot list batches to reconcile');
  }
  if (found) {
    ctx.log.warn(
      { ...log, batchId: found.id },
      'create failed ambiguously but the batch exists: adopting it',
    );
    await commitBatch(ctx, state, { ...batch, count: batch.items.length, bytes }, found, 'adopted');
    await backoff(ctx, message);
    state.stop = 'ambiguous';
    return;
  }
  await store.submissions.update(batch.subId, { lease: opts.now() + opts.createTimeoutMs });
  await backoff(ctx, message);
  state.stop = 'ambiguous';
  ctx.log.warn(log, 'create failed ambiguously and no batch is visible yet: left for recovery');
}

/** Moves the first half of the members to a new submission, then submits each half. */
async function splitAndSubmit(ctx: FlushContext, state: FlushState, batch: ClaimedBatch): Promise<void> {
  const { store, opts } = ctx;
  const now = opts.now();
  const half = Math.ceil(batch.items.length / 2);
  const first = batch.items.slice(0, half);
  const rest = batch.items.slice(half);
  const subId = await openSubmission(ctx, batch, now);
  // The first half sits at the head of the member list, so each LREM finds its id at once.
  await store.submissions.moveMembers(
    batch.subId,
    subId,
    first.map((i) => batch.buf.cids[i]!),
  );
  const a: ClaimedBatch = { ...batch, subId, items: first, itemBytes: batch.buf.sumBytes(first) };
  const b: ClaimedBatch = { ...batch, items: rest, itemBytes: batch.buf.sumBytes(rest) };
  await store.submissions.update(a.subId, { count: a.items.length, bytes: a.itemBytes });
  await store.submissions.update(b.subId, { count: b.items.length, bytes: b.itemBytes });
  await submitClaimed(ctx, state, a);
  if (state.stop) {
    await releaseSubmission(ctx, state, b.subId, `flush stopped (${state.stop})`);
    return;
  }
  await submitClaimed(ctx, state, b);
}

async function backoff(ctx: FlushContext, reason: string, retryAfterMs?: number) {
  const b = await ctx.store.backoff.bump({
    baseMs: ctx.opts.createBackoffMs,
    maxMs: ctx.opts.maxCreateBackoffMs,
    now: ctx.opts.now(),
    reason,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
  ctx.log.info({ failures: b.failures, until: b.until }, 'create backoff');
}

/** The custom_id of the submission's i-th request. */
const cidAt = (batch: ClaimedBatch, i: number) => batch.buf.cids[batch.items[i]!]!;
