import { ATTR, inSpan, SPANS } from '@nightshift/telemetry';

import { type ClaimCursor, claimBatch } from './claim.js';
import type { FlushContext, FlushState } from './context.js';
import { deadlinePartitions, decide, fullTriggerHolds, type PartitionPlan } from './decide.js';
import type { FlushReport } from './events.js';

import { flushResult } from './metrics.js';
import { recoverSubmissions } from './recover.js';
import { submitClaimed } from './submit.js';

/** What asked for a flush. */
export interface FlushTrigger {
  /** 'tick' (scheduler), 'manual' (flushNow / CLI), or a caller's own label. */
  kind: string;
  /** A manual flush of one partition only. */
  partition?: string;
}

/**
 * One flush: take the flush lock (or skip as 'busy'), recover dangling submissions, respect the
 * circuit and the create backoff, decide per partition, then claim and submit batch after batch.
 */
export function runFlush(ctx: FlushContext, trigger: FlushTrigger): Promise<FlushReport> {
  return inSpan(SPANS.flush, { attributes: { [ATTR.trigger]: trigger.kind } }, async (span) => {
    const r = await flushOnce(ctx, trigger);
    span.setAttributes({
      [ATTR.result]: flushResult(r),
      'nightshift.flush.batches': r.batches.length,
      [ATTR.requests]: r.batches.reduce((s, b) => s + b.requestCount, 0),
    });
    return r;
  });
}

async function flushOnce(ctx: FlushContext, trigger: FlushTrigger): Promise<FlushReport> {
  const { opts, store } = ctx;
  const lock = store.flushLock(opts.flushLockMs, (err) => ctx.emit('error', err));
  const startedAt = opts.now();
  const state: FlushState = {
    report: {
      trigger: trigger.kind,
      startedAt,
      endedAt: startedAt,
      durationMs: 0,
      batches: [],
      recovered: { released: 0, adopted: 0 },
      released: 0,
      deadLettered: 0,
    },
    probe: false,
    lockLost: () => lock.isLost(),
  };
  if (!(await lock.acquire())) {
    state.report.skipped = 'busy';
  } else {
    // Start and end are taken inside the lock: flushes of all processes never overlap in them.
    state.report.startedAt = opts.now();
    try {
      await flushLocked(ctx, state, trigger);
    } finally {
      state.report.endedAt = opts.now();
      await lock.release();
    }
  }
  const r = state.report;
  r.endedAt = Math.max(r.endedAt, r.startedAt);
  r.durationMs = r.endedAt - r.startedAt;
  if (state.stop) r.stopped = state.stop;
  const idle =
    r.skipped === 'busy' ||
    (!r.skipped &&
      r.batches.length + r.released + r.deadLettered + r.recovered.released + r.recovered.adopted === 0);
  // A tick that found nothing to do is logged at debug: every flush that did something at info.
  ctx.log[idle ? 'debug' : 'info'](
    {
      trigger: r.trigger,
      skipped: r.skipped,
      stopped: r.stopped,
      batches: r.batches.length,
      requests: r.batches.reduce((s, b) => s + b.requestCount, 0),
      released: r.released,
      deadLettered: r.deadLettered,
      recovered: r.recovered,
      durationMs: r.durationMs,
    },
    'flush',
  );
  ctx.emit('flush:done', r);
  return r;
}

async function flushLocked(ctx: FlushContext, state: FlushState, trigger: FlushTrigger) {
  const { opts, store } = ctx;
  state.report.recovered = await recoverSubmissions(ctx);
  const now = opts.now();
  const circuit = await store.circuit.state();
  if (circuit.open) {
    if (now < (circuit.until ?? 0)) {
      state.report.skipped = 'circuit';
      return;
    }
    state.probe = true;
    ctx.log.info(
      { kind: circuit.kind, errorCode: circuit.code, reason: circuit.reason, opens: circuit.opens },
      'circuit cooldown over: this flush is a probe (one create)',
    );
  }
  const manual = trigger.kind === 'manual';
  // A manual flush is an operator's decision and skips the create backoff; the circuit it respects.
  if (!manual) {
    const backoff = await store.backoff.read();
    if (now < backoff.until) {
      state.report.skipped = 'backoff';
      return;
    }
  }
  const overview = await store.pending.overview(now);
  if (overview.total === 0) return;
  const plans = decide(
    {
      overview,
      deadlinePartitions: await deadlinePartitions(store, opts, now),
      ...(manual ? { manual: trigger.partition === undefined ? {} : { partition: trigger.partition } } : {}),
    },
    opts,
    now,
  );
  for (const plan of plans) {
    await flushPartition(ctx, state, plan);
    if (state.stop) return;
  }
}

async function flushPartition(ctx: FlushContext, state: FlushState, plan: PartitionPlan) {
  const cursor: ClaimCursor = { group: 0 };
  let first = true;
  for (;;) {
    if (ctx.isClosing()) state.stop = 'closing';
    else if (state.lockLost()) state.stop = 'lock-lost';
    if (state.stop) return;
    if (!first && plan.mode === 'full' && !(await fullTriggerHolds(ctx.store, ctx.opts, plan.partition)))
      return;
    first = false;
    const batch = await claimBatch(ctx, plan, cursor);
    if (!batch) return;
    await submitClaimed(ctx, state, batch);
    if (state.stop) return;
  }
}
