import type { EventEmitter } from 'node:events';
import {
  BATCH_SIZE_BUCKETS,
  BUCKETS,
  defineCounter as counter,
  defineGauge as gauge,
  defineHistogram as histogram,
  type Registry,
} from '@nightshift/telemetry';
import type { BatcherEvents, FlushReport, SubmittedBatch } from './events.js';

/** Flush triggers as labels: a caller's own label of `runFlushOnce` counts as 'other'. */
const TRIGGERS = new Set(['tick', 'manual', 'direct']);

/** How a flush ended, as one bounded label. */
export function flushResult(r: FlushReport): string {
  return r.skipped ?? r.stopped ?? (r.batches.length > 0 ? 'submitted' : 'idle');
}

/**
 * The batcher's metrics, fed by its own events (docs/operations.md lists them all). Labels are
 * bounded: trigger, result, reason, origin, outcome (an error family) — never an id.
 */
export function instrumentBatcher(registry: Registry, batcher: EventEmitter<BatcherEvents>): void {
  const flushes = counter(
    registry,
    'nightshift_batcher_flushes_total',
    'Flushes by trigger (tick, manual, direct) and result (submitted, idle, busy, circuit, backoff, or why it stopped early).',
    ['trigger', 'result'],
  );
  const flushSeconds = histogram(
    registry,
    'nightshift_batcher_flush_duration_seconds',
    'Duration of the flushes that ran (took the lock), by trigger.',
    BUCKETS.work,
    ['trigger'],
  );
  const lastFlush = gauge(
    registry,
    'nightshift_batcher_last_flush_timestamp_seconds',
    'Unix time of the last flush this process ran (it took the lock; idle or not).',
  );
  const createSeconds = histogram(
    registry,
    'nightshift_batcher_create_duration_seconds',
    'Duration of batches.create calls, by outcome: created, or the family of the refusal (account, billing, rate-limit, temporary, too-large, invalid, ambiguous, …).',
    BUCKETS.apiCall,
    ['outcome'],
  );
  const batches = counter(
    registry,
    'nightshift_batcher_batches_total',
    'Batches recorded by this process, by flush reason (size, bytes, time, deadline, manual, retry) and origin (created, adopted).',
    ['reason', 'origin'],
  );
  const requests = counter(
    registry,
    'nightshift_batcher_requests_submitted_total',
    'Requests in the batches recorded by this process, by flush reason.',
    ['reason'],
  );
  const batchSize = histogram(
    registry,
    'nightshift_batcher_batch_size_requests',
    'Requests per batch created.',
    BATCH_SIZE_BUCKETS,
  );
  const released = counter(
    registry,
    'nightshift_batcher_requests_released_total',
    'Claimed requests put back in the queue (a create refused or failed, recovery found no batch).',
  );
  const deadLettered = counter(
    registry,
    'nightshift_batcher_requests_dead_lettered_total',
    'Requests the API refused at create time (named in a 400, or alone and too large), dead-lettered.',
  );
  const circuitOpens = counter(
    registry,
    'nightshift_batcher_circuit_opens_total',
    'Times a create refusal opened (or a refused probe reopened) the submission circuit, by kind (account, billing).',
    ['kind'],
  );
  const heartbeat = gauge(
    registry,
    'nightshift_batcher_heartbeat_timestamp_seconds',
    'Unix time this process last wrote its heartbeat to Redis.',
  );

  batcher.on('flush:done', (r) => {
    const trigger = TRIGGERS.has(r.trigger) ? r.trigger : 'other';
    flushes.inc({ trigger, result: flushResult(r) });
    if (r.skipped === 'busy') return;
    flushSeconds.observe({ trigger }, r.durationMs / 1000);
    lastFlush.set(r.endedAt / 1000);
    released.inc(r.released);
    deadLettered.inc(r.deadLettered);
  });
  batcher.on('create:done', (a) => createSeconds.observe({ outcome: a.outcome }, a.durationMs / 1000));
  const recorded = (b: SubmittedBatch) => {
    batches.inc({ reason: b.reason, origin: b.origin || 'created' });
    requests.inc({ reason: b.reason }, b.requestCount);
    if (!b.origin) batchSize.observe(b.requestCount);
  };
  batcher.on('batch:submitted', recorded);
  batcher.on('batch:adopted', recorded);
  batcher.on('circuit:open', (c) => circuitOpens.inc({ kind: c.kind }));
  batcher.on('heartbeat', ({ at }) => heartbeat.set(at / 1000));
}
