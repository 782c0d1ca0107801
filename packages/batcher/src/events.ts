import type { ApiErrorFamily, CircuitOpening, FlushReason } from '@nightshift/shared';

/** One batch a flush created (or adopted), as reported and logged. */
export interface SubmittedBatch {
  batchId: string;
  submissionId: string;
  partition: string;
  reason: FlushReason;
  /** Requests in the batch. */
  requestCount: number;
  /** Bytes of the create body. */
  bytes: number;
  /** 'adopted' when recovery found the batch at the API instead of the create answering. */
  origin: '' | 'adopted';
  /** Claim + create + commit, ms. */
  durationMs: number;
}

/** Why a flush stopped before it had gone through every partition. */
export type FlushStop = 'circuit' | 'backoff' | 'ambiguous' | 'create-failed' | 'lock-lost' | 'closing';

/** What one flush did. */
export interface FlushReport {
  /** The flush did not run: another flush holds the lock, the circuit is open, or a create backoff runs. */
  skipped?: 'busy' | 'circuit' | 'backoff';
  /** What started it: a scheduler tick, a manual flush (`flushNow`), or a direct call. */
  trigger: string;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** Batches created (or adopted after an ambiguous create) in this flush, in order. */
  batches: SubmittedBatch[];
  /** Recovery at the start of the flush: submissions released / batches adopted. */
  recovered: { released: number; adopted: number };
  /** Requests put back in the queue because a create failed. */
  released: number;
  /** Requests the API rejected, dead-lettered. */
  deadLettered: number;
  /** Set when the flush stopped early. */
  stopped?: FlushStop;
  /**
   * Admission, when the flush got as far as deciding: the cap (0: none), the requests in flight
   * at the API when it decided, and the ready requests it held back for want of room.
   */
  admission?: { cap: number; inFlight: number; held: number };
  /**
   * Ready requests the flush left queued because a budget covering them had no room for their
   * estimate (ARCHITECTURE.md "Budgets"), as far as its claims looked; absent when none.
   */
  heldByBudget?: number;
}

/** One `batches.create` call and how the API answered it. */
export interface CreateAnswer {
  submissionId: string;
  /** Requests in the create body. */
  requestCount: number;
  /** 'created', or the family of the API's refusal (ARCHITECTURE.md "API errors"). */
  outcome: 'created' | ApiErrorFamily;
  /** The call alone: from sending the body to the answer, ms. */
  durationMs: number;
}

/** The batcher's events (a typed EventEmitter map). */
export interface BatcherEvents {
  /** Every flush that ran or was skipped. */
  'flush:done': [report: FlushReport];
  /** A `batches.create` answered (a batch, or a refusal: see `outcome`). */
  'create:done': [answer: CreateAnswer];
  /** A batch was created and committed. */
  'batch:submitted': [batch: SubmittedBatch];
  /** A batch found at the API by reconciliation was recorded (ambiguous create or crash recovery). */
  'batch:adopted': [batch: SubmittedBatch];
  /** A submission's requests went back to the queue. */
  'submission:released': [info: { submissionId: string; count: number; why: string }];
  /**
   * Submissions stopped: the API refused the account, the call or billing (or refused a probe
   * again). `code` names the refusal, `fix` what an operator must do, `until` the next probe.
   */
  'circuit:open': [info: CircuitOpening & { until: number; opens: number }];
  /** This process wrote its heartbeat (`at`, ms). */
  heartbeat: [info: { at: number }];
  /** A background failure (a flush, the heartbeat, the worker). Never thrown into the void. */
  error: [err: Error];
}
