import type Anthropic from '@anthropic-ai/sdk';
import type { Alert, AttemptRecord, Logger } from '@nightshift/shared';
import type { ModelAlerts, Store } from '@nightshift/store';
import type { Queue } from 'bullmq';
import type { CollectorInstruments } from './metrics.js';
import type { ResolvedOptions } from './options.js';

/**
 * What applying one batch did. Line counts (`lines`, `succeeded` … `unknown`) describe the results
 * stream; effect counts (`delivered` … `missing`) are what this pass changed. After a restart
 * mid-stream, lines applied before the crash show up as `duplicate` or `stale`, never twice as effects.
 */
export interface ApplyCounts {
  /** Result lines read. */
  lines: number;
  succeeded: number;
  errored: number;
  expired: number;
  canceled: number;
  /** Lines whose custom_id is not a record of ours. */
  unknown: number;
  /** Lines that are not a known result shape. */
  malformed: number;
  /** Successes delivered to `{results}` and counted in the ledger. */
  delivered: number;
  /** Requests requeued with an attempt counted (errored retryable, expired, canceled, missing). */
  requeued: number;
  /** Requests requeued without an attempt counted (billing_error hold, lost batch). */
  held: number;
  /** Requests dead-lettered. */
  dead: number;
  /** Requests sent to the real-time path (deadline no longer meetable by a batch). */
  realtime: number;
  /** Successes for requests that were already final (a duplicate batch, or a re-streamed result). */
  duplicate: number;
  /** Failures for requests no longer held by this batch's submission (already applied, or moved on). */
  stale: number;
  /** Failures in a duplicate batch: the first batch of the submission decides them. */
  ignored: number;
  /** Members of the submission that had no result line. */
  missing: number;
}

/** The result of one tracking job run that finished (a batch collected, lost, or not ours any more). */
export interface BatchOutcome {
  batchId: string;
  outcome: 'collected' | 'lost' | 'unknown-batch';
  counts?: ApplyCounts;
  /** Why a batch was lost: 404 past the grace period, or results archived before they were applied. */
  reason?: 'not-found' | 'archived';
}

/** What one sweep did. */
export interface SweepReport {
  /** Batches in flight when the sweep started. */
  inflight: number;
  /** Tracking jobs (re-)added for batches in flight without a live job. */
  trackingJobsAdded: string[];
  /** Alerts newly raised, and cleared, by this sweep (`code` or `code:batchId`). */
  alertsRaised: string[];
  alertsCleared: string[];
  /** Stale real-time requests retried. */
  realtimeRetried: number;
  /** Orphan batches adopted (null when adoption is off or not due). */
  orphansAdopted: string[] | null;
  /** Deleted by retention (null when retention was not due). */
  purged: { records: number; submissions: number; batches: number } | null;
  /** Parts of the sweep that failed (each is also logged and emitted as 'error'). */
  errors: string[];
}

/** Typed events of a {@link Collector}. Every payload carries the ids needed to act. */
export interface CollectorEvents {
  /** One `batches.retrieve` of a batch answered: its status, or why it failed. */
  'batch:polled': [
    {
      batchId: string;
      /** The batch's `processing_status`, 'not-found', or the family of the failure ("API errors"). */
      outcome: string;
      /** The call alone, ms. */
      durationMs: number;
    },
  ];
  /**
   * A batch was seen ended at the API for the first time. `createdAt` and `endedAt` (ms) are the
   * API's times.
   */
  'batch:ended': [
    {
      batchId: string;
      counts: Anthropic.Messages.MessageBatchRequestCounts;
      createdAt: number;
      endedAt: number;
    },
  ];
  /** One chunk of a batch's results was applied (`lines` result lines, in `durationMs`). */
  'results:chunk': [{ batchId: string; lines: number; durationMs: number }];
  /** All results of a batch are applied; the batch left the in-flight set. */
  'results:applied': [{ batchId: string; counts: ApplyCounts }];
  /** A request went back to the queue. */
  'item:requeued': [
    {
      customId: string;
      batchId: string | null;
      attempt: number;
      outcome: AttemptRecord['outcome'];
      readyAt: number;
    },
  ];
  /** A request was dead-lettered. */
  'item:dead': [{ customId: string; batchId: string | null; reason: string }];
  /** An alert was newly raised. */
  alert: [Alert];
  /** This process wrote its heartbeat (`at`, ms). */
  heartbeat: [{ at: number }];
  /** A background failure (the loop carries on). Emitted only when someone listens; always logged. */
  error: [Error];
}

/** Everything the collector's parts share at run time. */
export interface Ctx {
  opts: ResolvedOptions;
  store: Store;
  /** Raises a model's alert (no price) at most hourly. */
  modelAlerts: ModelAlerts;
  client: Anthropic;
  log: Logger;
  now(): number;
  queues: { results: Queue; deadLetters: Queue; batches: Queue };
  /** Aborted by close(): in-flight work stops at the next safe point. */
  signal: AbortSignal;
  emit<K extends keyof CollectorEvents>(event: K, ...args: CollectorEvents[K]): void;
  /** Logs a background failure and emits it as 'error'. */
  reportError(err: unknown, where: string): void;
  /** Last successful poll (retrieve) by this process, ms; 0 before the first. */
  lastPollAt: number;
  /**
   * How many times the Redis connection has become ready. A pass over a batch during which it
   * changed may have had effects that Redis lost (its last writes, on an OS crash under
   * `appendfsync everysec` or a failover) while later ones stayed: the pass is redone.
   */
  redisEpoch(): number;
  startedAt: number;
  /** Per-result measurements (enqueue to result), when the collector was given a registry. */
  instruments: CollectorInstruments | undefined;
}

export function emptyCounts(): ApplyCounts {
  return {
    lines: 0,
    succeeded: 0,
    errored: 0,
    expired: 0,
    canceled: 0,
    unknown: 0,
    malformed: 0,
    delivered: 0,
    requeued: 0,
    held: 0,
    dead: 0,
    realtime: 0,
    duplicate: 0,
    stale: 0,
    ignored: 0,
    missing: 0,
  };
}
/** A store handle type used by helpers that only need the store. */
