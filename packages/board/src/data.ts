import {
  type Alert,
  type BatchFields,
  type CircuitState,
  type Heartbeat,
  jobIds,
  parseJson,
} from '@nightshift/shared';
import { type BudgetUsage, jobIdsIn, readJobsWithin } from '@nightshift/store';
import type { BoardContext } from './context.js';
import { type BoardCostReport, type CostWindow, loadCosts } from './costs.js';
import { LIST_DATA_BYTES, truncateText } from './limits.js';
import { type WebhooksView, webhooksView } from './webhooks.js';

/** Queued requests of one partition. */
interface PartitionView {
  partition: string;
  count: number;
  bytes: number;
  oldestAgeMs: number | null;
}

/** What waits to be batched. */
export interface WaitingView {
  total: number;
  oldestAgeMs: number | null;
  earliestDeadline: number | null;
  partitions: PartitionView[];
}

/** One batch as the board shows it. */
export interface BatchView {
  id: string;
  state: string;
  status: string;
  partition: string;
  reason: string;
  origin: string;
  requestCount: number;
  submittedAt: number | null;
  ageMs: number | null;
  expiresAt: number | null;
  /** Negative once past expiry. */
  expiresInMs: number | null;
  endedAt: number | null;
  counts: Record<string, number>;
}

/** Liveness of one process instance. */
interface InstanceView {
  instance: string;
  host: string;
  pid: number;
  lastBeatAt: number;
  lastBeatAgeMs: number;
  lastWorkAt: number | null;
  late: boolean;
}

/**
 * Liveness of a role: red when its freshest heartbeat is older than `staleAfterMs` (`late`), when
 * none ever came (`missing`), when the scheduler that drives it is gone (`no-scheduler`: the
 * processes beat but never get work) or when its queue is paused (`paused`).
 */
export interface RoleLiveness {
  role: 'batcher' | 'collector';
  state: 'ok' | 'late' | 'missing' | 'no-scheduler' | 'paused';
  staleAfterMs: number;
  lastBeatAgeMs: number | null;
  /** Last flush (batcher) or last successful poll (collector), ms. */
  lastWorkAt: number | null;
  instances: InstanceView[];
}

/** One dead letter (a waiting job of `{dead-letters}`). */
export interface DeadLetterView {
  jobId: string;
  customId: string;
  feature: string;
  model: string;
  reason: string;
  lastError: { type: string; message: string } | null;
  attempts: number;
  batchId: string | null;
  deadAt: number | null;
}

/** One queued request (not a BullMQ job: read from the store's pending index). */
export interface QueuedRequestView {
  customId: string;
  feature: string;
  model: string;
  partition: string;
  attempt: number;
  enqueuedAt: number | null;
  ageMs: number | null;
  readyAt: number | null;
  deadline: number | null;
}

/** Requests in flight at the API against the cap the batchers flush under. */
export interface AdmissionView {
  /** Requests in the API's processing queue now, as the store counts them (batches not seen ended, open creates and claims). */
  inFlight: number;
  /** Batches they are in. */
  batches: number;
  /** The batchers' `maxInFlightRequests` as the last flush applied it: null before any flush, 0 for no cap. */
  cap: number | null;
  /** Ready requests the last flush held back for want of room. */
  held: number;
  /** When the last flush decided (ms), or null. */
  lastFlushAt: number | null;
}

/** In flight vs cap: the live count, and the cap and hold-back the last flush recorded. */
export async function admissionView(ctx: BoardContext): Promise<AdmissionView> {
  const [now, last] = await Promise.all([ctx.store.admission.inFlight(), ctx.store.admission.last()]);
  return {
    inFlight: now.requests,
    batches: now.batches,
    cap: last ? last.cap : null,
    held: last ? last.held : 0,
    lastFlushAt: last ? last.at : null,
  };
}

/** Every budget with its current window: limit, spent (settled), reserved (claimed, not final) and remaining, in dollars. */
export function budgetsView(ctx: BoardContext): Promise<BudgetUsage[]> {
  return ctx.store.budgets.usage(ctx.opts.now());
}

/** Everything the overview page shows. */
export interface Overview {
  now: number;
  readOnly: boolean;
  canCancel: boolean;
  waiting: WaitingView;
  inflight: BatchView[];
  recent: BatchView[];
  admission: AdmissionView;
  budgets: BudgetUsage[];
  liveness: { batcher: RoleLiveness; collector: RoleLiveness; flushes: Record<string, unknown>[] };
  alerts: Alert[];
  circuit: CircuitState;
  deadLetters: { total: number; items: DeadLetterView[] };
  requests: { total: number; items: QueuedRequestView[] };
  costs: BoardCostReport;
  webhooks: WebhooksView;
}

const num = (v: string | undefined | null): number | null => {
  if (v === undefined || v === null || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** Queued requests per partition, biggest first. */
export async function waitingView(ctx: BoardContext, now: number): Promise<WaitingView> {
  const ov = await ctx.store.pending.overview(now);
  const partitions = [...ov.partitions.entries()]
    .map(([partition, p]) => ({
      partition,
      count: p.count,
      bytes: p.bytes,
      oldestAgeMs: p.oldest === null ? null : Math.max(0, now - p.oldest),
    }))
    .sort((a, b) => b.count - a.count || a.partition.localeCompare(b.partition));
  return { total: ov.total, oldestAgeMs: ov.oldestAgeMs, earliestDeadline: ov.earliestDeadline, partitions };
}

function parseCounts(raw: string | undefined): Record<string, number> {
  const parsed = parseJson<unknown>(raw, null);
  const out: Record<string, number> = {};
  if (!parsed || typeof parsed !== 'object') return out;
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** A batch record as the page and JSON show it (ages and expiry relative to `now`). */
function batchView(b: BatchFields, now: number): BatchView {
  const submittedAt = num(b.submitted);
  const expiresAt = num(b.expires);
  return {
    id: b.id,
    state: b.state,
    status: b.status,
    partition: b.partition,
    reason: b.reason,
    origin: b.origin ?? '',
    requestCount: Number(b.count) || 0,
    submittedAt,
    ageMs: submittedAt === null ? null : Math.max(0, now - submittedAt),
    expiresAt,
    expiresInMs: expiresAt === null ? null : expiresAt - now,
    endedAt: num(b.ended),
    counts: parseCounts(b.counts),
  };
}

/** Batches whose results are not applied yet (oldest first), and the latest known batches. */
export async function batchesView(ctx: BoardContext, now: number, recentLimit = 20, offset = 0) {
  const ids = await ctx.store.batches.inflightIds();
  const [inflightRaw, recentRaw] = await Promise.all([
    Promise.all(ids.map((id) => ctx.store.batches.get(id))),
    recentLimit > 0 ? ctx.store.batches.list(recentLimit, offset) : Promise.resolve([]),
  ]);
  const inflight = inflightRaw
    .filter((b): b is BatchFields => b !== null)
    .map((b) => batchView(b, now))
    .sort((a, b) => (a.submittedAt ?? 0) - (b.submittedAt ?? 0));
  return { inflight, recent: recentRaw.map((b) => batchView(b, now)) };
}

/** The time of a flush record, whatever its field is called (the batcher owns the format). */
function flushTime(f: Record<string, unknown>): number | null {
  for (const k of ['at', 'finishedAt', 'endedAt', 'startedAt', 'time']) {
    if (typeof f[k] === 'number') return f[k] as number;
  }
  return null;
}

/** What drives each role: its scheduler's queue and id (`flush-tick`, `collect-tick`). */
const DRIVERS = {
  batcher: { queue: 'flush', scheduler: jobIds.flushScheduler },
  collector: { queue: 'collect', scheduler: jobIds.collectScheduler },
} as const;

/** Whether a role's scheduler exists and its queue runs. */
async function driverState(ctx: BoardContext, role: 'batcher' | 'collector') {
  const { queue, scheduler } = DRIVERS[role];
  const [found, paused] = await Promise.all([
    ctx.queues[queue].getJobScheduler(scheduler),
    ctx.queues[queue].isPaused(),
  ]);
  return { scheduler: !!found, paused };
}

function roleLiveness(
  role: 'batcher' | 'collector',
  beats: Heartbeat[],
  staleAfterMs: number,
  now: number,
  extraWorkAt: number | null,
  driver: { scheduler: boolean; paused: boolean },
): RoleLiveness {
  const instances = beats
    .filter((h) => h.role === role)
    .map((h) => ({
      instance: h.instance,
      host: h.host,
      pid: h.pid,
      lastBeatAt: h.at,
      lastBeatAgeMs: Math.max(0, now - h.at),
      lastWorkAt: h.lastWork ?? null,
      late: now - h.at > staleAfterMs,
    }))
    .sort((a, b) => a.lastBeatAgeMs - b.lastBeatAgeMs);
  const freshest = instances[0];
  const works = [extraWorkAt, ...instances.map((i) => i.lastWorkAt)].filter((x): x is number => x !== null);
  return {
    role,
    state: !freshest
      ? 'missing'
      : freshest.late
        ? 'late'
        : !driver.scheduler
          ? 'no-scheduler'
          : driver.paused
            ? 'paused'
            : 'ok',
    staleAfterMs,
    lastBeatAgeMs: freshest ? freshest.lastBeatAgeMs : null,
    lastWorkAt: works.length ? Math.max(...works) : null,
    instances,
  };
}

/** Batcher and collector liveness, plus the latest flush records. */
export async function livenessView(ctx: BoardContext, now: number) {
  const [beats, flushes, batcher, collector] = await Promise.all([
    ctx.store.heartbeats.list(),
    ctx.store.flushLog.recent(10),
    driverState(ctx, 'batcher'),
    driverState(ctx, 'collector'),
  ]);
  const lastFlush = flushes[0] ? flushTime(flushes[0]) : null;
  const stale = ctx.opts.staleAfterMs;
  return {
    batcher: roleLiveness('batcher', beats, stale.batcher, now, lastFlush, batcher),
    collector: roleLiveness('collector', beats, stale.collector, now, null, collector),
    flushes,
  };
}

const text = (v: unknown): string => (typeof v === 'string' ? truncateText(v, 500) : '');
const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A `{type, message}` error from stored JSON or a payload, or null when it is not one. */
function errorOf(v: unknown): { type: string; message: string } | null {
  const parsed = typeof v === 'string' ? parseJson<unknown>(v, null) : v;
  if (!parsed || typeof parsed !== 'object') return null;
  const e = parsed as Record<string, unknown>;
  return { type: text(e.type), message: text(e.message) };
}

/**
 * A dead-letter job's payload as the page and JSON show it. The payload is whatever is stored (a
 * job written by an older version, or by hand): every field is checked and long texts are cut.
 */
function deadLetterView(jobId: string, data: unknown): DeadLetterView {
  const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  return {
    jobId,
    customId: text(d.customId) || customIdOfJob(jobId),
    feature: text(d.feature),
    model: text(d.model),
    reason: text(d.reason),
    lastError: errorOf(d.lastError),
    attempts: Array.isArray(d.attempts) ? d.attempts.length : 0,
    batchId: text(d.batchId) || null,
    deadAt: finite(d.deadAt),
  };
}

/** `dead-<custom_id>-<n>` → the custom_id ('' for an id of another shape). */
const customIdOfJob = (jobId: string) => /^dead-(.+)-\d+$/.exec(jobId)?.[1] ?? '';

/**
 * Dead letters waiting in `{dead-letters}`, oldest first. Only their small fields are read: a job
 * whose data is larger than {@link LIST_DATA_BYTES} (a dead letter carries its request's params:
 * megabytes for a long prompt) is not loaded; its fields come from the request's record instead.
 */
export async function deadLettersView(ctx: BoardContext, limit: number) {
  const q = ctx.queues.deadLetters;
  const [total, ids] = await Promise.all([
    q.getWaitingCount(),
    jobIdsIn(q, ['waiting'], 0, Math.max(0, limit - 1), true),
  ]);
  const jobs = await readJobsWithin(q, ids, LIST_DATA_BYTES);
  const large = jobs.filter((j) => j.omittedDataBytes > 0).map((j) => customIdOfJob(String(j.job.id)));
  const recs = new Map(
    (
      await ctx.store.records.peek(large, [
        'feature',
        'model',
        'reason',
        'lastError',
        'history',
        'completedAt',
        'batchId',
      ])
    ).map((r, i) => [large[i]!, r]),
  );
  const items = jobs.map(({ job, omittedDataBytes }) => {
    const id = String(job.id);
    if (!omittedDataBytes) return deadLetterView(id, job.data);
    const r = recs.get(customIdOfJob(id));
    const hist = r ? parseJson<unknown>(r.history, null) : null;
    return deadLetterView(id, {
      customId: customIdOfJob(id),
      feature: r?.feature ?? job.name,
      model: r?.model,
      reason: r?.reason ?? (r ? '' : 'record gone (past retention)'),
      lastError: r?.lastError,
      attempts: Array.isArray(hist) ? hist : [],
      batchId: r?.batchId,
      deadAt: Number(r?.completedAt) || job.timestamp,
    });
  });
  return { total, items };
}

/** The first `limit` queued requests of the oldest groups (the store's pending index, read only). */
export async function queuedRequestsView(ctx: BoardContext, now: number, limit: number) {
  const ov = await ctx.store.pending.overview(now);
  const picked: { cid: string; ready: number }[] = [];
  for (const g of ov.groups) {
    if (picked.length >= limit) break;
    picked.push(...(await ctx.store.pending.inGroup(g.group, limit - picked.length)));
  }
  const recs = await ctx.store.records.peek(
    picked.map((p) => p.cid),
    ['feature', 'model', 'partition', 'attempt', 'enqueuedAt', 'deadline'],
  );
  const items: QueuedRequestView[] = [];
  picked.forEach((p, i) => {
    const r = recs[i];
    if (!r) return;
    const enq = num(r.enqueuedAt);
    items.push({
      customId: p.cid,
      feature: r.feature,
      model: r.model,
      partition: r.partition,
      attempt: Number(r.attempt) || 1,
      enqueuedAt: enq,
      ageMs: enq === null ? null : Math.max(0, now - enq),
      readyAt: p.ready,
      deadline: num(r.deadline),
    });
  });
  return { total: ov.total, items };
}

/** Awaits every promise of an object at once: the answers under the same names. */
async function allOf<T extends Record<string, unknown>>(work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const names = Object.keys(work) as (keyof T)[];
  const answers = await Promise.all(names.map((n) => work[n]));
  return Object.fromEntries(names.map((n, i) => [n, answers[i]])) as T;
}

/** Gathers the whole overview (one page render or one `/api/overview` answer). */
export async function overview(ctx: BoardContext, days: CostWindow): Promise<Overview> {
  const now = ctx.opts.now();
  const { batches, ...views } = await allOf({
    waiting: waitingView(ctx, now),
    batches: batchesView(ctx, now, 15),
    admission: admissionView(ctx),
    budgets: budgetsView(ctx),
    liveness: livenessView(ctx, now),
    alerts: ctx.store.alerts.list(),
    circuit: ctx.store.circuit.state(),
    deadLetters: deadLettersView(ctx, 50),
    requests: queuedRequestsView(ctx, now, 50),
    costs: loadCosts(ctx.store, { days, now, ...(ctx.opts.prices ? { prices: ctx.opts.prices } : {}) }),
    webhooks: webhooksView(ctx),
  });
  return {
    now,
    readOnly: ctx.opts.readOnly,
    canCancel: !!ctx.opts.client && !ctx.opts.readOnly,
    inflight: batches.inflight,
    recent: batches.recent,
    ...views,
  };
}
