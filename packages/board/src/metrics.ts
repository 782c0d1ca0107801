import type { Alert, CircuitState } from '@nightshift/shared';
import { fromNano, QUEUES, RESULTS_ARCHIVE_MS } from '@nightshift/shared';
import { type BudgetUsage, EventOutbox, type LedgerRow } from '@nightshift/store';
import { Counter, Gauge, type Registry } from '@nightshift/telemetry';
import { Cluster, type Redis } from 'ioredis';
import { type BoardContext, QUEUE_ROLES } from './context.js';
import {
  type AdmissionView,
  admissionView,
  type BatchView,
  batchesView,
  budgetsView,
  livenessView,
  type RoleLiveness,
  type WaitingView,
  waitingView,
} from './data.js';

/** Everything the fleet-wide metrics show, read from Redis once per scrape. */
interface Fleet {
  now: number;
  waiting: WaitingView;
  inflight: BatchView[];
  admission: AdmissionView;
  budgets: BudgetUsage[];
  stats: Record<string, number>;
  ledger: LedgerRow[];
  roles: RoleLiveness[];
  circuit: CircuitState;
  alerts: Alert[];
  queues: Record<string, number>[];
  memory: { node: string; used: number; max: number }[];
  /** Webhook events written and not fanned out yet. */
  outbox: number;
}

/** `used_memory` and `maxmemory` of each Redis node serving the board (every master of a Cluster). */
async function redisMemory(conn: BoardContext['opts']['connection']) {
  const nodes: Redis[] = conn instanceof Cluster ? conn.nodes('master') : [conn];
  return Promise.all(
    nodes.map(async (node) => {
      const info = await node.info('memory');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      return {
        node: `${node.options.host}:${node.options.port}`,
        used: field('used_memory'),
        max: field('maxmemory'),
      };
    }),
  );
}

async function readFleet(ctx: BoardContext): Promise<Fleet> {
  const now = ctx.opts.now();
  const [waiting, batches, admission, budgets, stats, ledger, live, circuit, alerts, queues, memory, outbox] =
    await Promise.all([
      waitingView(ctx, now),
      batchesView(ctx, now, 0),
      admissionView(ctx),
      budgetsView(ctx),
      ctx.store.stats.all(),
      ctx.store.ledger.rows(),
      livenessView(ctx, now),
      ctx.store.circuit.state(),
      ctx.store.alerts.list(),
      Promise.all(QUEUE_ROLES.map((r) => ctx.queues[r].getJobCounts())),
      redisMemory(ctx.opts.connection),
      new EventOutbox(ctx.store).backlog(),
    ]);
  return {
    now,
    waiting,
    inflight: batches.inflight,
    admission,
    budgets,
    stats,
    ledger,
    roles: [live.batcher, live.collector],
    circuit,
    alerts,
    queues,
    memory,
    outbox,
  };
}

/**
 * One read per scrape: prom-client calls every metric's `collect()` in the same turn, so they all
 * await the read the first one started. The next scrape reads again.
 */
function fleetReader(ctx: BoardContext): () => Promise<Fleet> {
  let pending: Promise<Fleet> | undefined;
  return () => {
    pending ??= readFleet(ctx).finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

type Labels = Record<string, string>;
type Fill = (fleet: Fleet, put: (value: number, labels?: Labels) => void) => void;
interface FleetMetric {
  name: string;
  help: string;
  labels?: string[];
  fill: Fill;
}

/** Store counters that are not per-result: each becomes its own counter. */
const NON_RESULT_STATS: Record<string, { name: string; help: string }> = {
  batches: { name: 'nightshift_batches_submitted_total', help: 'Batches recorded (created or adopted).' },
  duplicate_batches: {
    name: 'nightshift_duplicate_batches_total',
    help: 'Second batches found for one submission (ambiguous creates that went through).',
  },
  dead_retried: {
    name: 'nightshift_dead_letters_retried_total',
    help: 'Dead-lettered requests sent back to the queue.',
  },
};

/** Sums ledger rows by the given fields into `put`. */
function byLedger(
  rows: LedgerRow[],
  keys: (keyof LedgerRow)[],
  value: (r: LedgerRow) => number,
  put: (v: number, l: Labels) => void,
) {
  const sums = new Map<string, { labels: Labels; v: number }>();
  for (const r of rows) {
    const v = value(r);
    const labels = Object.fromEntries(keys.map((k) => [k, String(r[k])]));
    const k = keys.map((f) => r[f]).join('|');
    const s = sums.get(k) ?? { labels, v: 0 };
    s.v += v;
    sums.set(k, s);
  }
  for (const s of sums.values()) put(s.v, s.labels);
}

const usOnly = (rows: LedgerRow[]) => rows.filter((r) => r.usResults > 0);

const secondsOrInf = (ms: number | null) => (ms === null ? Number.POSITIVE_INFINITY : ms / 1000);

/** Minimum of `value` per `label` over batches (none: no sample). */
function minBy(
  batches: BatchView[],
  label: (b: BatchView) => string | null,
  value: (b: BatchView) => number | null,
) {
  const out = new Map<string, number>();
  for (const b of batches) {
    const l = label(b);
    const v = value(b);
    if (l === null || v === null) continue;
    out.set(l, Math.min(out.get(l) ?? Number.POSITIVE_INFINITY, v));
  }
  return out;
}

/** Every gauge the board reads from Redis. Names and labels: docs/operations.md. */
const GAUGES: FleetMetric[] = [
  {
    name: 'nightshift_requests_queued',
    help: 'Requests waiting to be batched, per partition.',
    labels: ['partition'],
    fill: (f, put) => {
      for (const p of f.waiting.partitions) put(p.count, { partition: p.partition });
    },
  },
  {
    name: 'nightshift_oldest_queued_age_seconds',
    help: 'Age of the oldest waiting request (0 when none).',
    fill: (f, put) => put((f.waiting.oldestAgeMs ?? 0) / 1000),
  },
  {
    name: 'nightshift_batches_in_flight',
    help: 'Batches whose results are not applied yet, by API status.',
    labels: ['status'],
    fill: (f, put) => {
      const by = new Map<string, number>();
      for (const b of f.inflight) by.set(b.status || 'unknown', (by.get(b.status || 'unknown') ?? 0) + 1);
      for (const [status, n] of by) put(n, { status });
    },
  },
  {
    name: 'nightshift_requests_in_flight',
    help: "Requests in the API's processing queue as the store counts them: batches not yet seen ended, creates that may have gone through, and claims whose create is next.",
    fill: (f, put) => put(f.admission.inFlight),
  },
  {
    name: 'nightshift_requests_in_flight_cap',
    help: 'The batchers’ cap on requests in flight (NIGHTSHIFT_MAX_IN_FLIGHT_REQUESTS) as the last flush applied it; 0 for no cap, and before the first flush.',
    fill: (f, put) => put(f.admission.cap ?? 0),
  },
  {
    name: 'nightshift_requests_held_by_admission',
    help: 'Ready requests the last flush held back because the in-flight cap left no room for them.',
    fill: (f, put) => put(f.admission.held),
  },
  ...(
    [
      ['limit', 'The budget’s limit in its window, in US dollars at batch price.', (b) => b.limitUsd],
      ['spent', 'Real cost settled in the budget’s current window (successes applied).', (b) => b.spent],
      [
        'reserved',
        'Estimated cost reserved in the budget’s current window by requests submitted and not final yet.',
        (b) => b.reserved,
      ],
      [
        'remaining',
        'The limit less spent and reserved (0 at least): what the batcher may still submit in this window.',
        (b) => b.remaining,
      ],
    ] as const satisfies readonly [string, string, (b: BudgetUsage) => number][]
  ).map(
    ([what, help, value]): FleetMetric => ({
      name: `nightshift_budget_${what}_dollars`,
      help: `${help} Per budget (\`<name>/<day|month>\`).`,
      labels: ['budget', 'mode'],
      fill: (f, put) => {
        for (const b of f.budgets) put(value(b), { budget: b.id, mode: b.mode });
      },
    }),
  ),
  {
    name: 'nightshift_oldest_batch_in_flight_age_seconds',
    help: 'Age of the oldest batch whose results are not applied yet (0 when none).',
    fill: (f, put) => put(Math.max(0, ...f.inflight.map((b) => b.ageMs ?? 0)) / 1000),
  },
  {
    name: 'nightshift_batch_expires_in_seconds',
    help: 'Seconds until the nearest expires_at (24 h after creation) of the batches still processing at the API, by status; negative once past. No sample when none.',
    labels: ['status'],
    fill: (f, put) => {
      const processing = f.inflight.filter((b) => b.endedAt === null && b.status !== 'ended');
      for (const [status, ms] of minBy(
        processing,
        (b) => b.status || 'unknown',
        (b) => b.expiresInMs,
      ))
        put(ms / 1000, { status });
    },
  },
  {
    name: 'nightshift_batch_archive_in_seconds',
    help: 'Seconds until the API archives the results (29 days after creation) of the nearest batch whose results are not applied yet, by its state; no sample when none.',
    labels: ['state'],
    fill: (f, put) => {
      const at = (b: BatchView) =>
        b.submittedAt === null ? null : b.submittedAt + RESULTS_ARCHIVE_MS - f.now;
      for (const [state, ms] of minBy(f.inflight, (b) => b.state || 'unknown', at)) put(ms / 1000, { state });
    },
  },
  {
    name: 'nightshift_heartbeat_age_seconds',
    help: 'Seconds since each process last beat.',
    labels: ['role', 'instance'],
    fill: (f, put) => {
      for (const r of f.roles)
        for (const i of r.instances) put(i.lastBeatAgeMs / 1000, { role: r.role, instance: i.instance });
    },
  },
  {
    name: 'nightshift_role_heartbeat_age_seconds',
    help: 'Seconds since the freshest heartbeat of any process of the role (+Inf when none is registered).',
    labels: ['role'],
    fill: (f, put) => {
      for (const r of f.roles) put(secondsOrInf(r.lastBeatAgeMs), { role: r.role });
    },
  },
  {
    name: 'nightshift_role_last_work_age_seconds',
    help: 'Seconds since any process of the role last worked: a flush ran (batcher), a poll succeeded (collector). +Inf when never.',
    labels: ['role'],
    fill: (f, put) => {
      for (const r of f.roles)
        put(secondsOrInf(r.lastWorkAt === null ? null : Math.max(0, f.now - r.lastWorkAt)), { role: r.role });
    },
  },
  {
    name: 'nightshift_role_stale_after_seconds',
    help: 'How old the freshest heartbeat of a role may be before the board (and the liveness alerts) call it late: 3× NIGHTSHIFT_TICK_MS (at least 15 s: the batcher beats every 5 s) for the batcher, 3× NIGHTSHIFT_POLL_MS for the collector.',
    labels: ['role'],
    fill: (f, put) => {
      for (const r of f.roles) put(r.staleAfterMs / 1000, { role: r.role });
    },
  },
  {
    name: 'nightshift_circuit_open',
    help: '1 while submissions are stopped (the API refuses the account, the call or billing).',
    fill: (f, put) => put(f.circuit.open ? 1 : 0),
  },
  {
    name: 'nightshift_circuit_refusal',
    help: '1 per open circuit, labelled with its kind (account, billing) and the API error code that opened it.',
    labels: ['kind', 'code'],
    fill: (f, put) => {
      if (f.circuit.open) put(1, { kind: f.circuit.kind, code: f.circuit.code });
    },
  },
  {
    name: 'nightshift_circuit_next_probe_seconds',
    help: 'Seconds until the open circuit lets one probe create through (0 when due or closed).',
    fill: (f, put) => put(f.circuit.open ? Math.max(0, f.circuit.until - f.now) / 1000 : 0),
  },
  {
    name: 'nightshift_circuit_probes_refused',
    help: 'Probes the API refused since the circuit opened (a billing circuit doubles its wait per refusal).',
    fill: (f, put) => put(f.circuit.open ? f.circuit.opens - 1 : 0),
  },
  {
    name: 'nightshift_alerts',
    help: 'Alerts raised and not cleared, by code.',
    labels: ['code'],
    fill: (f, put) => {
      const by = new Map<string, number>();
      for (const a of f.alerts) by.set(a.code, (by.get(a.code) ?? 0) + 1);
      for (const [code, n] of by) put(n, { code });
    },
  },
  {
    name: 'nightshift_dead_letters',
    help: 'Dead letters waiting for a decision.',
    fill: (f, put) => put(f.queues[QUEUE_ROLES.indexOf('deadLetters')]?.waiting ?? 0),
  },
  {
    name: 'nightshift_queue_jobs',
    help: 'BullMQ jobs per queue and state.',
    labels: ['queue', 'state'],
    fill: (f, put) => {
      QUEUE_ROLES.forEach((role, i) => {
        const queue = QUEUES[role].replace(/[{}]/g, '');
        for (const [state, n] of Object.entries(f.queues[i] ?? {}).sort()) put(n, { queue, state });
      });
    },
  },
  {
    name: 'nightshift_webhook_outbox_backlog',
    help: 'Webhook events written and not fanned out yet (no nightshift-webhooks running, or one behind); 0 without endpoints.',
    fill: (f, put) => put(f.outbox),
  },
  {
    name: 'nightshift_redis_used_memory_bytes',
    help: 'used_memory of each Redis node serving Nightshift (INFO memory).',
    labels: ['node'],
    fill: (f, put) => {
      for (const m of f.memory) put(m.used, { node: m.node });
    },
  },
  {
    name: 'nightshift_redis_maxmemory_bytes',
    help: 'maxmemory of each Redis node serving Nightshift (0: no limit).',
    labels: ['node'],
    fill: (f, put) => {
      for (const m of f.memory) put(m.max, { node: m.node });
    },
  },
];

/** Every counter the board reads from Redis (store counters and the cost ledger). */
const COUNTERS: FleetMetric[] = [
  {
    name: 'nightshift_results_total',
    help: 'Result lines applied, by type (store counters).',
    labels: ['type'],
    fill: (f, put) => {
      for (const [type, v] of Object.entries(f.stats).sort()) if (!NON_RESULT_STATS[type]) put(v, { type });
    },
  },
  ...Object.entries(NON_RESULT_STATS).map(([key, m]) => ({
    ...m,
    fill: ((f, put) => put(f.stats[key] ?? 0)) as Fill,
  })),
  {
    name: 'nightshift_cost_usd_total',
    help: 'Dollars paid, by feature, model and mode (ledger in Redis).',
    labels: ['feature', 'model', 'mode'],
    fill: (f, put) => byLedger(f.ledger, ['feature', 'model', 'mode'], (r) => fromNano(r.costNano), put),
  },
  {
    name: 'nightshift_list_price_usd_total',
    help: 'What the same results would have cost at the real-time list price, by feature, model and mode.',
    labels: ['feature', 'model', 'mode'],
    fill: (f, put) => byLedger(f.ledger, ['feature', 'model', 'mode'], (r) => fromNano(r.listNano), put),
  },
  {
    name: 'nightshift_savings_usd_total',
    help: 'Dollars saved against list price, by feature and model.',
    labels: ['feature', 'model'],
    fill: (f, put) => byLedger(f.ledger, ['feature', 'model'], (r) => fromNano(r.listNano - r.costNano), put),
  },
  {
    name: 'nightshift_us_inference_results_total',
    help: 'Results the API ran US-only (inference_geo "us", billed at 1.1×), by feature and model.',
    labels: ['feature', 'model'],
    fill: (f, put) => byLedger(usOnly(f.ledger), ['feature', 'model'], (r) => r.usResults, put),
  },
  {
    name: 'nightshift_us_inference_premium_usd_total',
    help: 'Dollars US-only inference added to the cost, by feature and model.',
    labels: ['feature', 'model'],
    fill: (f, put) => byLedger(usOnly(f.ledger), ['feature', 'model'], (r) => fromNano(r.usPremiumNano), put),
  },
];

/**
 * Registers the fleet-wide metrics (read from Redis at each scrape, whichever processes run) on
 * `registry`: prom-client collectors that share one read per scrape. Returns the function that
 * removes them again (the board's close).
 */
export function registerFleetMetrics(registry: Registry, ctx: BoardContext): () => void {
  const read = fleetReader(ctx);
  const make = (m: FleetMetric, Kind: typeof Gauge | typeof Counter) => {
    const metric: Gauge | Counter = new Kind({
      name: m.name,
      help: m.help,
      labelNames: m.labels ?? [],
      registers: [registry],
      async collect() {
        const fleet = await read();
        metric.reset();
        const put =
          metric instanceof Gauge
            ? (v: number, l: Labels = {}) => metric.set(l, v)
            : (v: number, l: Labels = {}) => (metric as Counter).inc(l, Math.max(0, v));
        m.fill(fleet, put);
      },
    });
  };
  for (const m of GAUGES) make(m, Gauge);
  for (const m of COUNTERS) make(m, Counter);
  return () => {
    for (const m of [...GAUGES, ...COUNTERS]) registry.removeSingleMetric(m.name);
  };
}
