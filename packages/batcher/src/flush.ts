import { ATTR, inSpan, SPANS } from '@nightshift/telemetry';

import { type Room, readRoom, rotation, shareRoom, shareShortRoom } from './admission.js';
import { checkBudgetAlerts } from './budget-alerts.js';
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
      await checkBudgetAlerts(ctx, opts.now()).catch((err: unknown) => ctx.emit('error', err as Error));
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
  if (overview.total === 0) return recordNothingHeld(ctx, state);
  const urgent = await deadlinePartitions(store, opts, now);
  const plans = decide(
    {
      overview,
      deadlinePartitions: urgent,
      ...(manual ? { manual: trigger.partition === undefined ? {} : { partition: trigger.partition } } : {}),
    },
    opts,
    now,
  );
  if (plans.length === 0) return recordNothingHeld(ctx, state);
  const room = await readRoom(ctx);
  // The queued counts bound the ready ones: when they fit, every plan runs to its end and nothing
  // is held, so the groups' ready counts are read only when the room may be short.
  const queued = plans.map((p) => overview.partitions.get(p.partition)?.count ?? 0);
  const ready = queued.reduce((a, b) => a + b, 0) <= room.left ? queued : await readyByPlan(ctx, plans, now);
  const runs = plans.map(
    (plan, i): PartitionRun => ({
      plan,
      cursor: { group: 0, heldByBudget: 0 },
      first: true,
      done: false,
      demand: ready[i]!,
      urgent: [...(urgent.get(plan.partition)?.values() ?? [])].reduce((a, b) => a + b, 0),
      claimed: 0,
    }),
  );
  const turn = { last: room.turn, moved: false };
  const limited = await admit(ctx, state, runs, room, turn);
  // What admission held back once the room ran out (or fell below a chunk): the plans' requests it
  // did not reach (what a plan did not want, a 'full' plan's remainder, is not counted; nor what a
  // flush stopped by a refused create left with room to spare).
  // What a budget held is not admission's (ARCHITECTURE.md "Budgets").
  const heldByBudget = runs.reduce((n, r) => n + r.cursor.heldByBudget, 0);
  const held = !limited
    ? 0
    : runs.reduce((n, r) => n + (r.done ? 0 : Math.max(0, r.demand - r.claimed - r.cursor.heldByBudget)), 0);
  state.report.admission = { cap: room.cap, inFlight: room.inFlight, held };
  if (heldByBudget > 0) state.report.heldByBudget = heldByBudget;
  await store.admission.record({
    ...state.report.admission,
    at: opts.now(),
    instance: opts.instance,
    ...(turn.moved && turn.last !== undefined ? { turn: turn.last } : {}),
  });
}

/**
 * A flush with nothing to submit holds nothing back: it says so, or the board and the gauge would
 * keep the last figure (held requests since canceled, submitted by another path, or gone to backoff).
 */
async function recordNothingHeld(ctx: FlushContext, state: FlushState) {
  const room = await readRoom(ctx);
  state.report.admission = { cap: room.cap, inFlight: room.inFlight, held: 0 };
  await ctx.store.admission.record({
    ...state.report.admission,
    at: ctx.opts.now(),
    instance: ctx.opts.instance,
  });
}

/**
 * Each plan's ready requests (its groups' ready counts): what admission shares and counts as held.
 * The partition's queued count would include requests still in backoff, which no flush can take.
 */
async function readyByPlan(ctx: FlushContext, plans: PartitionPlan[], now: number): Promise<number[]> {
  return Promise.all(
    plans.map(async (plan) => {
      const counts = await Promise.all(plan.groups.map((g) => ctx.store.pending.readyCount(g, now)));
      return counts.reduce((a, b) => a + b, 0);
    }),
  );
}

/** One partition plan's progress through a flush, across the rounds of admission. */
interface PartitionRun {
  plan: PartitionPlan;
  cursor: ClaimCursor;
  first: boolean;
  /** Nothing more to take: no ready request left, or its 'full' trigger no longer holds. */
  done: boolean;
  /** The partition's ready requests when the flush decided (not those still in backoff). */
  demand: number;
  /** Its ready requests whose deadline needs submission now. */
  urgent: number;
  /** Requests claimed into this flush's submissions so far. */
  claimed: number;
}

/**
 * What a run asks for in each tier of precedence: an operator's flush (all of its partitions),
 * then urgent deadlines (only the urgent requests: its urgent groups are claimed first), then
 * every other plan's requests, deadline plans' rest included.
 */
const TIERS: ((r: PartitionRun) => number)[] = [
  (r) => (r.plan.reason === 'manual' ? r.demand - r.claimed : 0),
  (r) => (r.plan.reason === 'deadline' ? r.urgent - r.claimed : 0),
  (r) => (r.plan.reason === 'manual' ? 0 : r.demand - r.claimed),
];

/**
 * Submits what fits in the room (ARCHITECTURE.md "Admission"), tier by tier; within a tier the
 * room is shared fairly between partitions (shareRoom: a small partition gets all it has beside
 * a large backlog), any remainder to the oldest. In the last tier a share is never below the
 * room's minShare: a shorter room goes in chunks, partitions taking turns (shareShortRoom, the
 * rotation kept in `turn`), and the rest waits for batches to end; manual and urgent requests
 * take any room. A partition that takes less than its share leaves the rest to the others in the
 * next round. Returns whether admission held planned requests back.
 */
async function admit(
  ctx: FlushContext,
  state: FlushState,
  runs: PartitionRun[],
  room: Room,
  turn: { last: string | undefined; moved: boolean },
): Promise<boolean> {
  if (runs.reduce((n, r) => n + r.demand, 0) <= room.left) {
    // Room for all the plans want (or no cap): each runs to its end in decide's order, as without
    // admission; the room still bounds what was enqueued since the plans were decided.
    for (const run of runs) {
      room.left -= await flushPartition(ctx, state, run, room.left);
      if (state.stop) return room.left <= 0;
    }
    return false;
  }
  for (const [tier, want] of TIERS.entries()) {
    for (;;) {
      const open = runs.filter((r) => !r.done && want(r) > 0);
      if (open.length === 0) break;
      if (room.left <= 0) return true;
      const demands = open.map(want);
      let shares: number[];
      if (tier < TIERS.length - 1) shares = shareRoom(demands, room.left);
      else {
        const names = open.map((r) => r.plan.partition);
        const order = rotation(names, turn.last);
        const r = shareShortRoom(demands, room.left, room.minShare, order);
        shares = r.shares;
        if (r.short) {
          const last = order.filter((i) => shares[i]! > 0).at(-1);
          if (last !== undefined) Object.assign(turn, { last: names[last], moved: true });
        }
      }
      // Nothing fits (the room is below every chunk): the rest waits for batches to end.
      if (shares.every((v) => v <= 0)) return true;
      // Each round uses room or finds a run done (a run given a share that takes nothing is done),
      // so the rounds end.
      for (let i = 0; i < open.length; i++) {
        if (shares[i]! <= 0) continue;
        room.left -= await flushPartition(ctx, state, open[i]!, shares[i]!);
        if (state.stop) return room.left <= 0;
      }
    }
  }
  return false;
}

/** Claims and submits batches of one plan until `share` requests went out or nothing more is due. */
async function flushPartition(ctx: FlushContext, state: FlushState, run: PartitionRun, share: number) {
  const { plan } = run;
  let took = 0;
  for (;;) {
    if (ctx.isClosing()) state.stop = 'closing';
    else if (state.lockLost()) state.stop = 'lock-lost';
    if (state.stop) return took;
    if (took >= share) return took;
    if (
      !run.first &&
      plan.mode === 'full' &&
      !(await fullTriggerHolds(ctx.store, ctx.opts, plan.partition))
    ) {
      run.done = true;
      return took;
    }
    run.first = false;
    const batch = await claimBatch(ctx, plan, run.cursor, Math.min(ctx.opts.maxRequests, share - took));
    if (!batch) {
      run.done = true;
      return took;
    }
    // Counted as taken whatever the create answers: a refused create stops the flush, and a
    // request dead-lettered on the way (a 400 naming it) only leaves its room unused until the next.
    took += batch.items.length;
    run.claimed += batch.items.length;
    await submitClaimed(ctx, state, batch);
    if (state.stop) return took;
  }
}
