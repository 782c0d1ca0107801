import type { StoreCore } from './core.js';
import { coreOf } from './core.js';
import type { Store } from './store.js';

/** A drain mark: "tell me when every request of this feature enqueued before now is final". */
export interface DrainMark {
  markId: string;
  feature: string;
  /** The feature's epoch the mark closed: requests of this epoch and earlier ones count. */
  epoch: number;
  markedAt: number;
  /** Already drained when taken (nothing of the feature was open). */
  drained: boolean;
}

/** A pending mark with how many of its requests are not final yet. */
export interface PendingMark {
  markId: string;
  markedAt: number;
  remaining: number;
}

/** What `GET /v1/features/{feature}/progress` answers. */
export interface FeatureProgress {
  feature: string;
  /** Requests not final yet (queued, retrying, claimed, in a batch or real-time). */
  open: number;
  /** Since the first enqueue of the feature (a replaced request counts once). */
  enqueued: number;
  succeeded: number;
  dead: number;
  canceled: number;
  /** Drain marks taken and not drained yet, oldest first. */
  pendingMarks: PendingMark[];
}

/** Takes a drain mark on a feature (drain-mark.lua). */
async function markDrain(store: Store, feature: string, now: number): Promise<DrainMark> {
  const [markId, epoch, drained] = (await coreOf(store).script('nsDrainMark', now, feature)) as [
    string,
    number,
    string,
  ];
  return { markId, feature, epoch: Number(epoch), markedAt: now, drained: drained === '1' };
}

/** A drain mark as stored, with the time it drained (undefined while pending). */
export async function drainMarkById(
  store: Store,
  markId: string,
): Promise<(Omit<DrainMark, 'drained'> & { drainedAt?: number }) | null> {
  const raw = await coreOf(store).redis.hget(coreOf(store).keys.drainMarks, markId);
  if (!raw) return null;
  const m = JSON.parse(raw) as { id: string; feature: string; epoch: number; at: number; drainedAt?: number };
  return {
    markId: m.id,
    feature: m.feature,
    epoch: m.epoch,
    markedAt: m.at,
    ...(m.drainedAt ? { drainedAt: m.drainedAt } : {}),
  };
}

/**
 * Reads a feature's counts: the open count per drain epoch (a few fields: one per epoch that still
 * has requests), the cumulative outcomes and the pending marks. No scan.
 */
async function featureProgress(store: Store, feature: string): Promise<FeatureProgress> {
  const k = coreOf(store).keys;
  const [epochs, stats, marks] = await Promise.all([
    coreOf(store).redis.zrange(k.featureEpochs(feature), '0', '-1'),
    coreOf(store).redis.hmget(
      k.featureStats,
      ...['enqueued', 'succeeded', 'dead', 'canceled'].map((m) => `${feature}|${m}`),
    ),
    coreOf(store).redis.zrange(k.drainPending(feature), '0', '-1', 'WITHSCORES'),
  ]);
  const counts = epochs.length
    ? await coreOf(store).redis.hmget(k.featureOpen, ...epochs.map((e) => `${feature}|${e}`))
    : [];
  const openBy = epochs.map((e, i) => [Number(e), Number(counts[i] ?? 0)] as const);
  const pendingMarks: PendingMark[] = [];
  for (let i = 0; i < marks.length; i += 2) {
    const epoch = Number(marks[i + 1]);
    const markId = marks[i]!;
    const remaining = openBy.filter(([e]) => e <= epoch).reduce((a, [, n]) => a + n, 0);
    pendingMarks.push({ markId, markedAt: 0, remaining });
  }
  if (pendingMarks.length) {
    const raw = await coreOf(store).redis.hmget(k.drainMarks, ...pendingMarks.map((m) => m.markId));
    raw.forEach((r, i) => {
      if (r) pendingMarks[i]!.markedAt = (JSON.parse(r) as { at: number }).at;
    });
  }
  const [enqueued, succeeded, dead, canceled] = stats.map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  return {
    feature,
    open: openBy.reduce((a, [, n]) => a + n, 0),
    enqueued,
    succeeded,
    dead,
    canceled,
    pendingMarks,
  };
}

/** Drain marks and per-feature progress (see drain.ts, drain-mark.lua). */
export class Drains {
  constructor(
    readonly _core: StoreCore,
    private readonly store: Store,
  ) {}

  /** Takes a drain mark on a feature (see drain-mark.lua and drain.ts). */
  mark(feature: string, now = Date.now()): Promise<DrainMark> {
    return markDrain(this.store, feature, now);
  }

  /** A feature's requests not final yet, cumulative outcomes, and its pending drain marks. */
  progress(feature: string): Promise<FeatureProgress> {
    return featureProgress(this.store, feature);
  }
}
