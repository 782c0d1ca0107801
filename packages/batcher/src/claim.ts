import type { FlushReason } from '@nightshift/shared';
import { ENVELOPE_BYTES, ItemBuffer } from './body.js';
import { type FlushContext, openSubmission } from './context.js';
import type { PartitionPlan } from './decide.js';

/** Requests claimed into one open submission, on their way into one batch. */
export interface ClaimedBatch {
  subId: string;
  partition: string;
  reason: FlushReason;
  /** The serialized requests of this flush; `items` index into it. */
  buf: ItemBuffer;
  /** The requests of this submission, in claim order (indexes into `buf`). */
  items: number[];
  /** Sum of the items' serialized bytes as the records state them (the claim budget). */
  itemBytes: number;
  /** When the submission was opened (for the flush record's duration). */
  startedAt: number;
  /** The most requests this batch may hold: `maxRequests`, or less when admission leaves less room. */
  maxCount: number;
}

/** Where a partition plan's claiming stands between its batches. */
export interface ClaimCursor {
  /** Index into plan.groups of the group being claimed. */
  group: number;
  /** Ready requests a budget had no room for, left queued (claim.lua's held), over the run. */
  heldByBudget: number;
}

// The body's bytes are ENVELOPE + Σ items + (n − 1) separators ≤ maxBytes; claims count one
// separator per item, so the item budget is maxBytes − ENVELOPE + 1.
const budgetFor = (maxBytes: number) => maxBytes - ENVELOPE_BYTES + 1;

/**
 * Opens a submission and claims one batch's worth of the plan's groups, in the plan's order
 * (urgent groups, then the oldest), at most `maxCount` requests (the room admission leaves).
 * A group is kept whole: when it does not fit in what is left of a non-empty batch, the batch is
 * closed and the group starts the next one. Only a group larger than a whole batch is split.
 * Returns null when nothing was ready (the empty submission is released).
 */
export async function claimBatch(
  ctx: FlushContext,
  plan: PartitionPlan,
  cursor: ClaimCursor,
  maxCount: number = ctx.opts.maxRequests,
): Promise<ClaimedBatch | null> {
  const { store, opts } = ctx;
  const now = opts.now();
  const subId = await openSubmission(ctx, plan, now);
  const batch: ClaimedBatch = {
    subId,
    partition: plan.partition,
    reason: plan.reason,
    buf: new ItemBuffer(),
    items: [],
    itemBytes: 0,
    startedAt: now,
    maxCount: Math.min(maxCount, opts.maxRequests),
  };
  while (cursor.group < plan.groups.length) {
    const group = plan.groups[cursor.group]!;
    if (batch.items.length > 0 && !(await groupFits(ctx, plan, group, batch, now))) break;
    const full = await claimGroup(ctx, group, batch, cursor, now);
    if (full) break;
    cursor.group++;
  }
  if (batch.items.length === 0) {
    await store.submissions.release(subId, { now });
    return null;
  }
  await ctx.hooks.afterClaim?.(subId);
  return batch;
}

/**
 * Claims a group into the batch chunk by chunk. Returns true when the batch is full (the group
 * may have more), false when the group has no ready request left.
 */
async function claimGroup(
  ctx: FlushContext,
  group: string,
  batch: ClaimedBatch,
  cursor: ClaimCursor,
  now: number,
) {
  // Each claim of the group looks at the held requests again: the most one claim met is the count.
  let held = 0;
  try {
    return await claimGroupChunks(ctx, group, batch, now, (n) => {
      held = Math.max(held, n);
    });
  } finally {
    cursor.heldByBudget += held;
  }
}

async function claimGroupChunks(
  ctx: FlushContext,
  group: string,
  batch: ClaimedBatch,
  now: number,
  onHeld: (n: number) => void,
) {
  const { store, opts } = ctx;
  for (;;) {
    const countLeft = batch.maxCount - batch.items.length;
    const bytesLeft = budgetFor(opts.maxBytes) - batch.itemBytes - batch.items.length;
    if (countLeft <= 0 || bytesLeft <= 0) return true;
    const want = Math.min(opts.claimChunk, countLeft);
    let res = await store.submissions.claimRaw(group, batch.subId, want, bytesLeft, now, 1);
    if (res.held) {
      onHeld(res.held);
      // Only what a budget holds was in reach: the group waits for its budget (next group).
      if (res.items.length === 0) return false;
    }
    if (res.items.length === 0 && batch.items.length === 0 && (await readyCount(ctx, group, now)) > 0) {
      // One request alone is larger than maxBytes: send it alone and let the API judge it (a 413
      // dead-letters it) rather than block its group for ever.
      res = await store.submissions.claimRaw(group, batch.subId, 1, Number.MAX_SAFE_INTEGER, now, 1);
      for (const i of batch.buf.append(res.items)) batch.items.push(i);
      batch.itemBytes += res.bytes;
      return true;
    }
    for (const i of batch.buf.append(res.items)) batch.items.push(i);
    batch.itemBytes += res.bytes;
    if (res.items.length < want) {
      if ((await readyCount(ctx, group, now)) === 0) return false;
      // Fewer than asked while the group still has ready requests: the byte budget stopped the
      // claim (full), or stale index entries were skipped (claim again).
      if (res.items.length === 0) return true;
    }
  }
}

/**
 * Whether all of a group's ready requests fit in what is left of the batch. The count is exact;
 * bytes are estimated from the partition's average request size and read exactly only when the
 * estimate comes near the budget (requests far above their partition's average can still cut a
 * group in two: the claim enforces the limit either way).
 */
async function groupFits(
  ctx: FlushContext,
  plan: PartitionPlan,
  group: string,
  batch: ClaimedBatch,
  now: number,
) {
  const { store, opts } = ctx;
  const countLeft = batch.maxCount - batch.items.length;
  const ready = await readyCount(ctx, group, now);
  if (ready === 0) return true;
  if (ready > countLeft) return false;
  const bytesLeft = budgetFor(opts.maxBytes) - batch.itemBytes - batch.items.length;
  if (ready * (2 * plan.avgItemBytes + 1) <= bytesLeft) return true;
  const ids = await store.pending.readyIds(group, now, countLeft);
  let sum = 0;
  for (let i = 0; i < ids.length; i += 5000) {
    const recs = await store.records.peek(ids.slice(i, i + 5000), ['bytes']);
    for (const r of recs) sum += Number(r?.bytes ?? 0) + 1;
    if (sum > bytesLeft) return false;
  }
  return true;
}

function readyCount(ctx: FlushContext, group: string, now: number): Promise<number> {
  return ctx.store.pending.readyCount(group, now);
}
