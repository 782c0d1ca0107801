import type { EventEmitter } from 'node:events';
import {
  BUCKETS,
  defineCounter as counter,
  defineGauge as gauge,
  defineHistogram as histogram,
  type Registry,
} from '@nightshift/telemetry';
import type { ApplyCounts, CollectorEvents } from './types.js';

/** What the apply path calls per result it settled (the hot path: one histogram observation). */
export interface CollectorInstruments {
  /** A request reached its result (`succeeded`) or its dead letter, `enqueuedAt` ms after epoch. */
  settled(feature: string, outcome: 'succeeded' | 'dead', enqueuedAt: number, now: number): void;
}

/** The effect counts of {@link ApplyCounts} (the line counts are `nightshift_collector_result_lines_total`). */
const EFFECTS = [
  'delivered',
  'requeued',
  'held',
  'dead',
  'realtime',
  'duplicate',
  'stale',
  'ignored',
  'missing',
  'unknown',
  'malformed',
] as const satisfies readonly (keyof ApplyCounts)[];

/** `processing_status` values: a poll that answered one of them succeeded. */
const STATUSES = new Set(['in_progress', 'canceling', 'ended']);

/**
 * The collector's metrics, fed by its events and one per-result hook (docs/operations.md lists
 * them all). Labels are bounded: outcome, feature, alert code — never a batch or custom_id.
 */
export function instrumentCollector(
  registry: Registry,
  collector: EventEmitter<CollectorEvents>,
): CollectorInstruments {
  const polls = histogram(
    registry,
    'nightshift_collector_poll_duration_seconds',
    'Duration of batches.retrieve calls, by outcome: the processing_status answered, not-found, or the family of the failure.',
    BUCKETS.apiCall,
    ['outcome'],
  );
  const lastPoll = gauge(
    registry,
    'nightshift_collector_last_poll_timestamp_seconds',
    'Unix time of the last successful poll (retrieve) by this process.',
  );
  const timeToEnd = histogram(
    registry,
    'nightshift_collector_batch_time_to_end_seconds',
    'Time from a batch’s creation to its end at the API (created_at to ended_at), per batch seen ended.',
    BUCKETS.batchEnd,
  );
  const lines = counter(
    registry,
    'nightshift_collector_result_lines_total',
    'Result lines applied (read and decided, chunk by chunk): the apply rate.',
  );
  const chunkSeconds = histogram(
    registry,
    'nightshift_collector_chunk_apply_duration_seconds',
    'Duration of applying one chunk of result lines (records read, decided, jobs added, apply script).',
    BUCKETS.work,
  );
  const effects = counter(
    registry,
    'nightshift_collector_results_applied_total',
    'What applying batches did, by outcome: delivered, requeued, held, dead, realtime, duplicate, stale, ignored, missing, unknown, malformed.',
    ['outcome'],
  );
  const collected = counter(
    registry,
    'nightshift_collector_batches_collected_total',
    'Batches whose results this process applied completely.',
  );
  const latency = histogram(
    registry,
    'nightshift_collector_enqueue_to_result_seconds',
    'Time from a request’s first enqueue to its applied result (succeeded) or dead letter, by feature.',
    BUCKETS.enqueueToResult,
    ['feature', 'outcome'],
  );
  const alerts = counter(
    registry,
    'nightshift_collector_alerts_raised_total',
    'Alerts this process raised, by code (batch-past-expiry, results-unapplied, archive-approaching, poll-stale, circuit-open, …).',
    ['code'],
  );
  const heartbeat = gauge(
    registry,
    'nightshift_collector_heartbeat_timestamp_seconds',
    'Unix time this process last wrote its heartbeat to Redis.',
  );

  collector.on('batch:polled', (p) => {
    polls.observe({ outcome: p.outcome }, p.durationMs / 1000);
    if (STATUSES.has(p.outcome)) lastPoll.set(Date.now() / 1000);
  });
  collector.on('batch:ended', (b) => {
    if (b.endedAt >= b.createdAt) timeToEnd.observe((b.endedAt - b.createdAt) / 1000);
  });
  collector.on('results:chunk', (c) => {
    lines.inc(c.lines);
    chunkSeconds.observe(c.durationMs / 1000);
  });
  collector.on('results:applied', ({ counts }) => {
    collected.inc();
    for (const outcome of EFFECTS) if (counts[outcome] > 0) effects.inc({ outcome }, counts[outcome]);
  });
  collector.on('alert', (a) => alerts.inc({ code: a.code }));
  collector.on('heartbeat', ({ at }) => heartbeat.set(at / 1000));
  return {
    settled(feature, outcome, enqueuedAt, now) {
      if (enqueuedAt > 0 && now >= enqueuedAt)
        latency.observe({ feature, outcome }, (now - enqueuedAt) / 1000);
    },
  };
}
