import type Anthropic from '@anthropic-ai/sdk';
import {
  type AttemptRecord,
  assertNever,
  BATCH_WINDOW_MS,
  type CircuitOpening,
  circuitFor,
  classifyResultError,
  describeFailure,
  type Message,
  type RequestRecord,
} from '@nightshift/shared';

/** One line of a batch's results stream. */
export type ResultLine = Anthropic.Messages.MessageBatchIndividualResponse;

/** The record fields every decision needs (read in one pipelined peek per chunk). */
export const PEEK_FIELDS = [
  'state',
  'submission',
  'attempt',
  'feature',
  'model',
  'metadata',
  'deadline',
  'deaths',
  'realtimeAllowed',
  'batchId',
  'delivery',
  'enqueuedAt',
  // '' on a compacted record (delivered: see isCompacted)
  'customId',
] as const satisfies readonly (keyof RequestRecord)[];

export type PeekedRecord = Pick<RequestRecord, (typeof PEEK_FIELDS)[number]>;

/** Which batch the lines come from, and what it may decide. */
export interface BatchScope {
  batchId: string;
  /** The submission the batch belongs to: failures apply only to records it still holds. */
  subId: string;
  /** A duplicate batch (second batch of one submission) applies successes only. */
  onlySuccesses: boolean;
}

export interface RetryPolicy {
  maxAttempts: number;
  retryBackoffMs: number;
  deadlineSlackMs: number;
}

/** The last error as stored on the record and shown in a dead letter (`code`: the API's error_code). */
export interface LastError {
  type: string;
  message: string;
  code?: string;
}

/** What to do with one request. */
export type Verdict =
  | { kind: 'success'; message: Message }
  | { kind: 'skip'; why: 'unknown' | 'duplicate' | 'stale' | 'ignored' | 'malformed' }
  | {
      kind: 'requeue';
      countsAttempt: boolean;
      readyAt: number;
      error: LastError | null;
      entry: AttemptRecord;
      /** The account or billing refusal that holds the request: it opens the submission circuit. */
      refusal?: CircuitOpening;
    }
  | { kind: 'dead'; reason: string; error: LastError | null; entry: AttemptRecord }
  | { kind: 'realtime'; entry: AttemptRecord };

/** A verdict that changes something (everything but a skip). */
export type Effect = Exclude<Verdict, { kind: 'skip' }>;

/** Records a success may still land on: anything not final. A paid result is never thrown away. */
const OPEN = new Set(['queued', 'claimed', 'realtime']);

const NOT_PROCESSED: Record<'expired' | 'canceled', string> = {
  expired: 'The batch reached its 24 h expiry before this request was processed.',
  canceled: 'The batch was canceled before this request was processed.',
};

/**
 * Decides the effect of one result line on its record, as peeked at the start of the chunk. The
 * apply script re-checks the same guards atomically, so a decision made on a stale read is refused
 * there, never applied twice.
 */
export function decide(
  line: ResultLine,
  rec: PeekedRecord | null,
  scope: BatchScope,
  policy: RetryPolicy,
  now: number,
): Verdict {
  if (!rec) return { kind: 'skip', why: 'unknown' };
  const result = line.result;
  if (result?.type === 'succeeded') {
    return OPEN.has(rec.state)
      ? { kind: 'success', message: result.message }
      : { kind: 'skip', why: 'duplicate' };
  }
  if (result?.type !== 'errored' && result?.type !== 'expired' && result?.type !== 'canceled') {
    return { kind: 'skip', why: 'malformed' };
  }
  if (scope.onlySuccesses) return { kind: 'skip', why: 'ignored' };
  if (rec.state !== 'claimed' || rec.submission !== scope.subId) return { kind: 'skip', why: 'stale' };
  const attempt = Number(rec.attempt) || 1;
  if (result.type === 'errored') return decideErrored(rec, attempt, result.error?.error, scope, policy, now);
  const error = { type: result.type, message: NOT_PROCESSED[result.type] };
  const entry: AttemptRecord = { attempt, batchId: scope.batchId, outcome: result.type, at: now };
  return retryOrGiveUp(rec, attempt, entry, error, policy, now);
}

/**
 * An errored line, by the shared classification of its `error.type` and `details.error_code`
 * (ARCHITECTURE.md "API errors"): an account or billing refusal holds the request (no attempt
 * spent) and stops submissions; an invalid, too large or unknown-model request, or one this key may
 * not make, is dead at once; anything else is retried while attempts last.
 */
function decideErrored(
  rec: PeekedRecord,
  attempt: number,
  raw: Parameters<typeof classifyResultError>[0],
  scope: BatchScope,
  policy: RetryPolicy,
  now: number,
): Effect {
  const failure = classifyResultError(raw);
  const error = describeFailure(failure);
  const entry: AttemptRecord = {
    attempt,
    batchId: scope.batchId,
    outcome: 'errored',
    errorType: failure.type,
    ...(failure.code ? { errorCode: failure.code } : {}),
    message: failure.message,
    at: now,
  };
  switch (failure.family) {
    case 'account':
    case 'billing':
      return {
        kind: 'requeue',
        countsAttempt: false,
        readyAt: now,
        error,
        entry,
        refusal: circuitFor(failure),
      };
    case 'invalid':
    case 'too-large':
    case 'not-found':
    case 'permission':
      return { kind: 'dead', reason: failure.type, error, entry };
    case 'rate-limit':
    case 'temporary':
    case 'ambiguous':
    case 'refused':
      return retryOrGiveUp(rec, attempt, entry, error, policy, now);
    default:
      return assertNever(failure.family);
  }
}

/**
 * A retryable failure: back to the queue with backoff, unless a batch can no longer meet the
 * request's deadline (then real-time if the caller allowed it, else a dead letter) or the
 * attempts are used up.
 */
export function retryOrGiveUp(
  rec: Pick<PeekedRecord, 'deadline' | 'realtimeAllowed'>,
  attempt: number,
  entry: AttemptRecord,
  error: LastError,
  policy: RetryPolicy,
  now: number,
): Effect {
  const deadline = rec.deadline ? Number(rec.deadline) : null;
  if (deadline !== null && now + BATCH_WINDOW_MS + policy.deadlineSlackMs > deadline) {
    return rec.realtimeAllowed === '1'
      ? { kind: 'realtime', entry }
      : { kind: 'dead', reason: 'deadline', error, entry };
  }
  if (attempt >= policy.maxAttempts) return { kind: 'dead', reason: 'attempts-exhausted', error, entry };
  return {
    kind: 'requeue',
    countsAttempt: true,
    readyAt: now + policy.retryBackoffMs * 2 ** (attempt - 1),
    error,
    entry,
  };
}
