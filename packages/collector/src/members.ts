import { applyEffects, type Decided } from './apply.js';
import { type BatchScope, type Effect, PEEK_FIELDS, type PeekedRecord, retryOrGiveUp } from './decide.js';
import { runRealtime } from './realtime.js';
import type { ApplyCounts, Ctx } from './types.js';

const MEMBER_CHUNK = 1000;

/**
 * Walks the members of a batch's submission in chunks and applies `verdictOf` to those the
 * submission still holds (state claimed, sub = the submission). Members applied from a result line,
 * moved to another submission, or never ours any more are left alone.
 */
async function forHeldMembers(
  ctx: Ctx,
  scope: BatchScope,
  counts: ApplyCounts,
  verdictOf: (rec: PeekedRecord, now: number) => Effect,
): Promise<number> {
  let held = 0;
  for (let start = 0; ; start += MEMBER_CHUNK) {
    const range = await ctx.store.submissions.held(scope.subId, start, start + MEMBER_CHUNK - 1);
    if (range.held.length) {
      const recs = await ctx.store.records.peekMany(range.held, [...PEEK_FIELDS]);
      const now = ctx.now();
      const decided: Decided[] = [];
      recs.forEach((rec, i) => {
        // Read again with every field: the record may have moved on since the script looked.
        if (rec && rec.state === 'claimed' && rec.submission === scope.subId) {
          decided.push({ cid: range.held[i]!, rec, verdict: verdictOf(rec, now) });
        }
      });
      held += decided.length;
      const origin = { batchId: scope.batchId, guardSub: scope.subId };
      await runRealtime(ctx, await applyEffects(ctx, origin, decided, counts, now));
    }
    if (range.read < MEMBER_CHUNK) break;
  }
  return held;
}

/**
 * After a complete results stream: members still held by the submission had no result line. They
 * are requeued with an attempt counted (outcome 'missing'), or given up like any retryable failure.
 */
export async function requeueMissing(ctx: Ctx, scope: BatchScope, counts: ApplyCounts): Promise<void> {
  if (scope.onlySuccesses) return;
  const missing = await forHeldMembers(ctx, scope, counts, (rec, now) => {
    const attempt = Number(rec.attempt) || 1;
    const error = { type: 'missing', message: `No result line for this request in batch ${scope.batchId}.` };
    const entry = {
      attempt,
      batchId: scope.batchId,
      outcome: 'missing' as const,
      at: now,
      ...errorFields(error),
    };
    return retryOrGiveUp(rec, attempt, entry, error, ctx.opts, now);
  });
  counts.missing += missing;
}

/**
 * A batch that is gone (404 past the grace period, or results archived before we applied them):
 * its held members go back to the queue without spending an attempt; the work was never ours to lose.
 */
export async function requeueLost(
  ctx: Ctx,
  scope: BatchScope,
  counts: ApplyCounts,
  why: string,
): Promise<void> {
  if (scope.onlySuccesses) return;
  await forHeldMembers(ctx, scope, counts, (rec, now) => {
    const error = { type: 'batch_lost', message: why };
    return {
      kind: 'requeue',
      countsAttempt: false,
      readyAt: now,
      error,
      entry: {
        attempt: Number(rec.attempt) || 1,
        batchId: scope.batchId,
        outcome: 'lost',
        at: now,
        ...errorFields(error),
      },
    };
  });
}

function errorFields(e: { type: string; message: string }) {
  return { errorType: e.type, message: e.message };
}
