import { QUEUES, type QueueRole } from '@nightshift/shared';
import { openQueue } from '@nightshift/store';
import type { CliContext } from '../context.js';
import { ago, duration, table } from '../format.js';

/** Everything an operator checks first: backlog, batches in flight, liveness, alerts, circuit. */
export async function status(ctx: CliContext): Promise<number> {
  const { store } = ctx;
  const now = Date.now();
  const [layout, pending, inflightIds, atApi, admission, budgets, beats, alerts, circuit, stats, flushes] =
    await Promise.all([
      store.layout.read(),
      store.pending.overview(now),
      store.batches.inflightIds(),
      store.admission.inFlight(),
      store.admission.last(),
      store.budgets.usage(now),
      store.heartbeats.list(),
      store.alerts.list(),
      store.circuit.state(),
      store.stats.all(),
      store.flushLog.recent(1),
    ]);
  const inflight = (await Promise.all(inflightIds.map((id) => store.batches.get(id)))).filter(
    (b) => b !== null,
  );
  const queues: Record<string, Record<string, number>> = {};
  for (const role of Object.keys(QUEUES) as QueueRole[]) {
    const q = openQueue(role, ctx.redis, ctx.config.prefix);
    queues[role] = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    await q.close();
  }
  const lastOf = (role: string) =>
    Math.max(0, ...beats.filter((b) => b.role === role).map((b) => b.lastWork ?? 0));
  const report = {
    layout: { version: layout.version, migrationAvailable: layout.migrationAvailable },
    queued: {
      total: pending.total,
      oldestAgeMs: pending.oldestAgeMs,
      partitions: Object.fromEntries(pending.partitions),
    },
    batchesInFlight: inflight.map((b) => ({
      id: b.id,
      status: b.status,
      requests: Number(b.count),
      submittedAt: Number(b.submitted),
    })),
    admission: {
      inFlight: atApi.requests,
      batches: atApi.batches,
      cap: admission ? admission.cap : null,
      held: admission ? admission.held : 0,
    },
    budgets: budgets.map((b) => ({
      id: b.id,
      mode: b.mode,
      limitUsd: b.limitUsd,
      spent: b.spent,
      reserved: b.reserved,
      remaining: b.remaining,
      resetsAt: b.resetsAt,
    })),
    lastFlushAt: lastOf('batcher') || null,
    lastPollAt: lastOf('collector') || null,
    processes: beats,
    alerts,
    circuit,
    stats,
    queues,
    lastFlush: flushes[0] ?? null,
  };
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return 0;
  }
  ctx.out(
    `Queued requests: ${pending.total}${pending.oldestAgeMs !== null ? ` (oldest waiting ${duration(pending.oldestAgeMs)})` : ''}`,
  );
  ctx.out(`Batches in flight: ${inflight.length}`);
  if (inflight.length)
    ctx.out(table(report.batchesInFlight.map((b) => ({ ...b, submittedAt: ago(b.submittedAt, now) }))));
  ctx.out(`At the API: ${admissionLine(report.admission)}`);
  for (const b of budgets) {
    const full =
      b.remaining <= 0 ? (b.mode === 'hold' ? ' — FULL: holding its requests' : ' — FULL: refusing') : '';
    ctx.out(
      `Budget ${b.id}: $${(b.spent + b.reserved).toFixed(2)} of $${b.limitUsd.toFixed(2)} ($${b.spent.toFixed(2)} spent, $${b.reserved.toFixed(2)} reserved), resets in ${duration(b.resetsAt - now)}${full}`,
    );
  }
  ctx.out(`Last flush: ${ago(report.lastFlushAt, now)}   Last poll: ${ago(report.lastPollAt, now)}`);
  ctx.out(
    `Processes: ${beats.map((b) => `${b.role}@${b.instance} (${ago(b.at, now)})`).join(', ') || 'none seen'}`,
  );
  if (circuit.open) {
    const what = circuit.kind === 'billing' ? 'billing / spend limit' : 'the API refuses the account';
    ctx.out(`Circuit: OPEN (${what}: ${circuit.code}) since ${ago(circuit.since, now)} — ${circuit.reason}`);
    ctx.out(`  Fix: ${circuit.fix}`);
    const probe = circuit.until <= now ? 'due at the next tick' : `in ${duration(circuit.until - now)}`;
    ctx.out(
      `  Requests stay queued. Next probe (one create) ${probe}; after fixing it: nightshift circuit close`,
    );
  } else ctx.out('Circuit: closed');
  if (layout.migrationAvailable)
    ctx.out(
      `Store layout: ${layout.version}, older than this version's: run \`nightshift migrate\` to shrink what it kept`,
    );
  ctx.out(
    alerts.length ? `Alerts:\n${alerts.map((a) => `  [${a.code}] ${a.message}`).join('\n')}` : 'Alerts: none',
  );
  ctx.out('Queues:');
  ctx.out(table(Object.entries(queues).map(([role, c]) => ({ queue: QUEUES[role as QueueRole], ...c }))));
  return 0;
}

/** In flight vs cap, as the last flush applied the cap: `40 requests of 100 (7 held back)`. */
function admissionLine(a: { inFlight: number; cap: number | null; held: number }): string {
  const cap = a.cap === null ? ' (no flush yet)' : a.cap === 0 ? ' (no cap)' : ` of ${a.cap}`;
  const held = a.held > 0 ? `; ${a.held} held back by the last flush for want of room` : '';
  return `${a.inFlight} requests${cap}${held}`;
}
