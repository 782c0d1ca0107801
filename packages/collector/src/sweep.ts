import { hostname } from 'node:os';
import type { BatchFields } from '@nightshift/shared';
import { evaluateAlerts } from './alerts.js';
import { asError } from './errors.js';
import { adoptOrphans } from './orphans.js';
import { runRealtime } from './realtime.js';
import { purge } from './retention.js';
import { ensureTrackingJobs } from './tracking.js';
import type { Ctx, SweepReport } from './types.js';

/** State a sweep keeps between runs in one process. */
export interface SweepMemory {
  lastRetention: number;
  lastOrphanScan: number;
  foreign: Set<string>;
}

/** Retention and orphan scans are heavier than the rest: scheduled sweeps run them at most this often. */
const RETENTION_EVERY_MS = 3_600_000;
const ORPHAN_SCAN_EVERY_MS = 10 * 60_000;
/** Stale real-time requests retried per sweep. */
const REALTIME_PER_SWEEP = 100;

/**
 * The `{collect}` sweep: tracking jobs, heartbeat, alerts, stale real-time requests, orphan adoption
 * (opt-in) and retention. Each part runs even if an earlier one failed; failures are reported
 * (`'error'` event, log) and listed in `report.errors`. `force` runs the throttled parts now.
 */
export async function sweep(ctx: Ctx, mem: SweepMemory, force: boolean): Promise<SweepReport> {
  const report: SweepReport = {
    inflight: 0,
    trackingJobsAdded: [],
    alertsRaised: [],
    alertsCleared: [],
    realtimeRetried: 0,
    orphansAdopted: null,
    purged: null,
    errors: [],
  };
  const part = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      report.errors.push(`${name}: ${asError(err).message}`);
      ctx.reportError(err, `sweep ${name}`);
    }
  };
  let batches: BatchFields[] = [];
  await part('tracking jobs', async () => {
    const ids = await ctx.store.batches.inflightIds();
    report.inflight = ids.length;
    batches = (await Promise.all(ids.map((id) => ctx.store.batches.get(id)))).filter(
      (b): b is BatchFields => !!b,
    );
    await ensureTrackingJobs(ctx, batches, report);
  });
  await part('heartbeat and alerts', async () => {
    await heartbeat(ctx);
    await evaluateAlerts(ctx, batches, await ctx.store.heartbeats.list(), report);
  });
  await part('stale real-time', async () => {
    // While the API refuses the account or billing, calling again would be refused too: once the
    // circuit's cooldown is over, one call is the probe (answered, it closes the circuit).
    const circuit = await ctx.store.circuit.state();
    if (circuit.open && ctx.now() < circuit.until) return;
    const stale = await ctx.store.realtime.stale(ctx.now() - ctx.opts.realtimeStaleMs);
    const cids = stale.slice(0, circuit.open ? 1 : REALTIME_PER_SWEEP);
    if (cids.length === 0) return;
    // Claim them for this retry so a concurrent sweep elsewhere leaves them alone.
    await ctx.store.realtime.touch(cids, ctx.now());
    report.realtimeRetried = await runRealtime(ctx, cids, { probe: circuit.open });
  });
  const now = ctx.now();
  if (ctx.opts.adoptOrphans && (force || now - mem.lastOrphanScan >= ORPHAN_SCAN_EVERY_MS)) {
    mem.lastOrphanScan = now;
    await part('orphan adoption', async () => {
      report.orphansAdopted = await adoptOrphans(ctx, mem.foreign);
    });
  }
  if (force || now - mem.lastRetention >= RETENTION_EVERY_MS) {
    mem.lastRetention = now;
    await part('retention', async () => {
      report.purged = await purge(ctx);
    });
  }
  return report;
}

/** Writes this collector's heartbeat; lastWork is its last successful poll. */
export async function heartbeat(ctx: Ctx): Promise<void> {
  const at = ctx.now();
  await ctx.store.heartbeats.beat({
    role: 'collector',
    instance: ctx.opts.instance,
    pid: process.pid,
    host: hostname(),
    at,
    ...(ctx.lastPollAt ? { lastWork: ctx.lastPollAt } : {}),
  });
  ctx.emit('heartbeat', { at });
}
