import { fromNano, QUEUES } from '@nightshift/shared';
import { type BoardContext, QUEUE_ROLES } from './context.js';
import { batchesView, livenessView, waitingView } from './data.js';

/** The content type Prometheus expects for the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Store counters that are not per-result: each becomes its own metric. */
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

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** Builds Prometheus text: `# HELP`, `# TYPE`, then samples. */
class Exposition {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  metric(name: string, type: 'gauge' | 'counter', help: string) {
    if (this.declared.has(name)) return this;
    this.declared.add(name);
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels: Record<string, string> = {}) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    const v = Number.isFinite(value) ? String(value) : 'NaN';
    this.lines.push(l ? `${name}{${l}} ${v}` : `${name} ${v}`);
    return this;
  }

  toString() {
    return `${this.lines.join('\n')}\n`;
  }
}

async function pendingAndBatches(ctx: BoardContext, out: Exposition, now: number) {
  const waiting = await waitingView(ctx, now);
  out.metric('nightshift_requests_queued', 'gauge', 'Requests waiting to be batched, per partition.');
  for (const p of waiting.partitions)
    out.sample('nightshift_requests_queued', p.count, { partition: p.partition });
  out.metric(
    'nightshift_oldest_queued_age_seconds',
    'gauge',
    'Age of the oldest waiting request (0 when none).',
  );
  out.sample('nightshift_oldest_queued_age_seconds', (waiting.oldestAgeMs ?? 0) / 1000);

  const { inflight } = await batchesView(ctx, now, 0);
  const byStatus = new Map<string, number>();
  for (const b of inflight)
    byStatus.set(b.status || 'unknown', (byStatus.get(b.status || 'unknown') ?? 0) + 1);
  out.metric(
    'nightshift_batches_in_flight',
    'gauge',
    'Batches whose results are not applied yet, by API status.',
  );
  for (const [status, n] of byStatus) out.sample('nightshift_batches_in_flight', n, { status });
}

async function statsAndCosts(ctx: BoardContext, out: Exposition) {
  const stats = await ctx.store.stats();
  out.metric('nightshift_results_total', 'counter', 'Result lines applied, by type (store counters).');
  for (const [key, value] of Object.entries(stats).sort()) {
    if (!NON_RESULT_STATS[key]) out.sample('nightshift_results_total', value, { type: key });
  }
  for (const [key, m] of Object.entries(NON_RESULT_STATS)) {
    out.metric(m.name, 'counter', m.help).sample(m.name, stats[key] ?? 0);
  }

  const rows = await ctx.store.ledger();
  const cost = new Map<string, { feature: string; model: string; mode: string; usd: number }>();
  const savings = new Map<string, { feature: string; model: string; usd: number }>();
  for (const r of rows) {
    const ck = `${r.feature}|${r.model}|${r.mode}`;
    const c = cost.get(ck) ?? { feature: r.feature, model: r.model, mode: r.mode, usd: 0 };
    c.usd += fromNano(r.costNano);
    cost.set(ck, c);
    const sk = `${r.feature}|${r.model}`;
    const s = savings.get(sk) ?? { feature: r.feature, model: r.model, usd: 0 };
    s.usd += fromNano(r.listNano - r.costNano);
    savings.set(sk, s);
  }
  out.metric(
    'nightshift_cost_usd_total',
    'counter',
    'Dollars paid, by feature, model and mode (ledger in Redis).',
  );
  for (const c of cost.values()) {
    out.sample('nightshift_cost_usd_total', c.usd, { feature: c.feature, model: c.model, mode: c.mode });
  }
  out.metric(
    'nightshift_savings_usd_total',
    'counter',
    'Dollars saved against list price, by feature and model.',
  );
  for (const s of savings.values()) {
    out.sample('nightshift_savings_usd_total', s.usd, { feature: s.feature, model: s.model });
  }
  out.metric(
    'nightshift_us_inference_results_total',
    'counter',
    'Results the API ran US-only (inference_geo "us", billed at 1.1×), by feature and model.',
  );
  out.metric(
    'nightshift_us_inference_premium_usd_total',
    'counter',
    'Dollars US-only inference added to the cost, by feature and model.',
  );
  const us = new Map<string, { feature: string; model: string; n: number; nano: number }>();
  for (const r of rows) {
    if (!r.usResults) continue;
    const k = `${r.feature}|${r.model}`;
    const u = us.get(k) ?? { feature: r.feature, model: r.model, n: 0, nano: 0 };
    u.n += r.usResults;
    u.nano += r.usPremiumNano;
    us.set(k, u);
  }
  for (const u of us.values()) {
    const labels = { feature: u.feature, model: u.model };
    out.sample('nightshift_us_inference_results_total', u.n, labels);
    out.sample('nightshift_us_inference_premium_usd_total', fromNano(u.nano), labels);
  }
}

async function livenessAndQueues(ctx: BoardContext, out: Exposition, now: number) {
  const live = await livenessView(ctx, now);
  out.metric('nightshift_heartbeat_age_seconds', 'gauge', 'Seconds since each process last beat.');
  for (const role of [live.batcher, live.collector]) {
    for (const i of role.instances) {
      out.sample('nightshift_heartbeat_age_seconds', i.lastBeatAgeMs / 1000, {
        role: role.role,
        instance: i.instance,
      });
    }
  }
  const [circuit, alerts] = await Promise.all([ctx.store.circuit(), ctx.store.alerts()]);
  out.metric(
    'nightshift_circuit_open',
    'gauge',
    '1 while submissions are stopped (the API refuses the account, the call or billing).',
  );
  out.sample('nightshift_circuit_open', circuit.open ? 1 : 0);
  out.metric(
    'nightshift_circuit_refusal',
    'gauge',
    '1 per open circuit, labelled with its kind (account, billing) and the API error code that opened it.',
  );
  if (circuit.open) out.sample('nightshift_circuit_refusal', 1, { kind: circuit.kind, code: circuit.code });
  out.metric(
    'nightshift_circuit_next_probe_seconds',
    'gauge',
    'Seconds until the open circuit lets one probe create through (0 when due or closed).',
  );
  out.sample(
    'nightshift_circuit_next_probe_seconds',
    circuit.open ? Math.max(0, circuit.until - now) / 1000 : 0,
  );
  out.metric(
    'nightshift_circuit_probes_refused',
    'gauge',
    'Probes the API refused since the circuit opened (a billing circuit doubles its wait per refusal).',
  );
  out.sample('nightshift_circuit_probes_refused', circuit.open ? circuit.opens - 1 : 0);
  out.metric('nightshift_alerts', 'gauge', 'Alerts raised and not cleared, by code.');
  const byCode = new Map<string, number>();
  for (const a of alerts) byCode.set(a.code, (byCode.get(a.code) ?? 0) + 1);
  for (const [code, n] of byCode) out.sample('nightshift_alerts', n, { code });

  const counts = await Promise.all(QUEUE_ROLES.map((r) => ctx.queues[r].getJobCounts()));
  out.metric('nightshift_dead_letters', 'gauge', 'Dead letters waiting for a decision.');
  out.sample('nightshift_dead_letters', counts[QUEUE_ROLES.indexOf('deadLetters')]?.waiting ?? 0);
  out.metric('nightshift_queue_jobs', 'gauge', 'BullMQ jobs per queue and state.');
  QUEUE_ROLES.forEach((role, i) => {
    const queue = QUEUES[role].replace(/[{}]/g, '');
    for (const [state, n] of Object.entries(counts[i] ?? {}).sort()) {
      out.sample('nightshift_queue_jobs', n, { queue, state });
    }
  });
}

/** Renders every Nightshift metric in the Prometheus text format. */
export async function renderMetrics(ctx: BoardContext): Promise<string> {
  const now = ctx.opts.now();
  const out = new Exposition();
  await pendingAndBatches(ctx, out, now);
  await statsAndCosts(ctx, out);
  await livenessAndQueues(ctx, out, now);
  return out.toString();
}
