import { type Alert, type BatchFields, type Heartbeat, RESULTS_ARCHIVE_MS } from '@nightshift/shared';
import type { Ctx, SweepReport } from './types.js';

const DAY = 86_400_000;

/** Per-batch alerts the sweep raises and clears by itself. */
const BATCH_ALERTS = ['batch-past-expiry', 'results-unapplied', 'archive-approaching'] as const;
/**
 * Every alert the sweep owns (others — circuit-open, batch-lost, unknown ids — stay until the circuit
 * closes or an operator clears them).
 */
const MANAGED = new Set<Alert['code']>(['poll-stale', ...BATCH_ALERTS]);
/** Model alerts are raised again while the model is used (at most hourly): one not raised for a day is cleared. */
const MODEL_ALERTS = new Set<Alert['code']>(['model-deprecated', 'model-unpriced']);
const MODEL_ALERT_IDLE_MS = DAY;

type NewAlert = Omit<Alert, 'since'>;
const fieldOf = (a: { code: string; batchId?: string; model?: string }) =>
  a.batchId ? `${a.code}:${a.batchId}` : a.model ? `${a.code}:${a.model}` : a.code;

/** The collector's one way to raise an alert: a newly raised one is logged and emitted. Returns whether it is new. */
export async function raiseAlert(ctx: Ctx, alert: NewAlert, now: number): Promise<boolean> {
  const isNew = await ctx.store.alerts.raise(alert, now);
  if (isNew) {
    ctx.log.warn({ alert }, `alert: ${alert.message}`);
    ctx.emit('alert', { ...alert, since: now });
  }
  return isNew;
}

/** Clears the per-batch alerts of a batch that has left flight. */
export async function clearBatchAlerts(ctx: Ctx, batchId: string): Promise<void> {
  await Promise.all(BATCH_ALERTS.map((code) => ctx.store.alerts.clear(code, batchId)));
}

/** The alerts the batches in flight call for, right now. */
function wanted(ctx: Ctx, batches: BatchFields[], beats: Heartbeat[], now: number): Map<string, NewAlert> {
  const want = new Map<string, NewAlert>();
  const put = (a: NewAlert) => want.set(fieldOf(a), a);
  const { alertUnappliedMs, alertArchiveDays, alertPollStaleMs } = ctx.opts;
  for (const b of batches) {
    const expires = Number(b.expires) || 0;
    const created = Number(b.created) || Number(b.submitted) || 0;
    if (b.state === 'submitted' && b.status !== 'ended' && expires && now > expires) {
      put({
        code: 'batch-past-expiry',
        batchId: b.id,
        message: `Batch ${b.id} is still ${b.status || 'in progress'} past its expires_at (${new Date(expires).toISOString()}).`,
      });
    }
    // A batch ends by expires_at at the latest, even if no poll has seen it end.
    const endedAt = Number(b.ended) || (expires && now > expires ? expires : 0);
    if (endedAt && now - endedAt > alertUnappliedMs) {
      put({
        code: 'results-unapplied',
        batchId: b.id,
        message: `Batch ${b.id} ended ${Math.round((now - endedAt) / 60_000)} min ago and its results are not applied yet.`,
      });
    }
    if (created && now >= created + RESULTS_ARCHIVE_MS - alertArchiveDays * DAY) {
      put({
        code: 'archive-approaching',
        batchId: b.id,
        message: `Results of batch ${b.id} are archived on ${new Date(created + RESULTS_ARCHIVE_MS).toISOString()} and are not collected yet.`,
      });
    }
  }
  const lastGood = Math.max(
    ctx.lastPollAt || ctx.startedAt,
    ...beats.filter((h) => h.role === 'collector').map((h) => h.lastWork ?? 0),
  );
  if (batches.length > 0 && now - lastGood > alertPollStaleMs) {
    put({
      code: 'poll-stale',
      message: `No collector has polled a batch successfully for ${Math.round((now - lastGood) / 60_000)} min while ${batches.length} batch(es) are in flight.`,
    });
  }
  return want;
}

/** Raises the alerts the in-flight batches call for and clears the sweep-owned ones that no longer apply. */
export async function evaluateAlerts(
  ctx: Ctx,
  batches: BatchFields[],
  beats: Heartbeat[],
  report: SweepReport,
): Promise<void> {
  const now = ctx.now();
  const want = wanted(ctx, batches, beats, now);
  for (const [field, alert] of want) {
    const isNew = await raiseAlert(ctx, alert, now);
    // The batch may have been collected since this sweep read the in-flight set. The poller leaves
    // flight first and clears its alerts second, so checking after (re-)raising never leaves a
    // stale alert behind.
    if (alert.batchId && !(await ctx.store.batches.isInflight(alert.batchId))) {
      await ctx.store.alerts.clear(alert.code, alert.batchId);
      continue;
    }
    if (isNew) report.alertsRaised.push(field);
  }
  for (const a of await ctx.store.alerts.list()) {
    const field = fieldOf(a);
    if (MODEL_ALERTS.has(a.code) && now - (a.at ?? a.since) > MODEL_ALERT_IDLE_MS) {
      await ctx.store.alerts.clear(a.code, a.model);
      report.alertsCleared.push(field);
      ctx.log.info({ alert: field }, 'model alert cleared: the model was not used for a day');
    } else if (MANAGED.has(a.code) && !want.has(field)) {
      await ctx.store.alerts.clear(a.code, a.batchId);
      report.alertsCleared.push(field);
      ctx.log.info({ alert: field }, 'alert cleared');
    }
  }
}
