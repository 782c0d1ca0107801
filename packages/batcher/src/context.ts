import { randomBytes } from 'node:crypto';
import type { BatchJobData, DeadLetterPayload, FlushReason, Logger } from '@nightshift/shared';
import type { Store } from '@nightshift/store';
import type { Queue } from 'bullmq';
import type { BatcherEvents, FlushReport } from './events.js';
import type { ResolvedOptions, TestOnlyHooks } from './options.js';

/** Everything one flush needs; built once per batcher. */
export interface FlushContext {
  opts: ResolvedOptions;
  store: Store;
  log: Logger;
  batchesQueue: Queue<BatchJobData>;
  deadLetterQueue: Queue<DeadLetterPayload>;
  emit: <K extends keyof BatcherEvents>(event: K, ...args: BatcherEvents[K]) => void;
  /** Set when the batcher is closing: the flush stops after the batch in progress. */
  isClosing: () => boolean;
  hooks: TestOnlyHooks;
}

/** Per-flush mutable state: counters for the report, and why it stopped. */
export interface FlushState {
  report: FlushReport;
  /** Set when the flush must not start another batch. */
  stop?: FlushReport['stopped'];
  /** The circuit's cooldown has passed: this flush is the probe (one batch, then close or reopen). */
  probe: boolean;
  /** The flush lock could not be renewed. */
  lockLost: () => boolean;
}

/** A new submission id: time-ordered, unique across processes, safe in keys. */
function newSubmissionId(now: number): string {
  return `${now.toString(36)}-${randomBytes(5).toString('hex')}`;
}

/**
 * Opens a new submission of the partition, owned by this batcher under its lease (a flush's claim,
 * or the second half of a split batch); answers its id.
 */
export async function openSubmission(
  ctx: FlushContext,
  of: { partition: string; reason: FlushReason },
  now: number,
): Promise<string> {
  const id = newSubmissionId(now);
  await ctx.store.submissions.open({
    id,
    partition: of.partition,
    reason: of.reason,
    owner: ctx.opts.instance,
    leaseMs: ctx.opts.submissionLeaseMs,
    now,
  });
  return id;
}
