import { BATCH_WINDOW_MS, type FlushReason } from '@nightshift/shared';
import type { Store } from '@nightshift/store';
import type { ResolvedOptions } from './options.js';

/** What to flush in one partition, and how. */
export interface PartitionPlan {
  partition: string;
  reason: FlushReason;
  /**
   * 'drain': submit every ready request (time, deadline, manual). 'full': submit full batches
   * while the size/bytes trigger still holds; the remainder waits for its own trigger.
   */
  mode: 'drain' | 'full';
  /** The partition's groups, oldest first. */
  groups: string[];
  /** Average serialized bytes of the partition's queued requests (to judge whether a group fits). */
  avgItemBytes: number;
}

type Overview = Awaited<ReturnType<Store['pending']['overview']>>;

/** Ready requests whose deadline needs submission now: partition → group → how many. */
export type UrgentRequests = Map<string, Map<string, number>>;

/** Inputs of {@link decide}, read from the store. */
export interface DecideInput {
  overview: Overview;
  /** Partitions holding a ready request whose deadline needs submission now → group → how many. */
  deadlinePartitions: UrgentRequests;
  /** A manual flush: every partition, or only the one named. */
  manual?: { partition?: string };
}

/** Decides, per partition, whether and why to flush (pure). */
export function decide(input: DecideInput, o: ResolvedOptions, now: number): PartitionPlan[] {
  const plans: PartitionPlan[] = [];
  const groupsByPartition = new Map<string, string[]>();
  for (const g of input.overview.groups) {
    const list = groupsByPartition.get(g.partition) ?? [];
    list.push(g.group);
    groupsByPartition.set(g.partition, list);
  }
  for (const [partition, p] of input.overview.partitions) {
    if (p.count <= 0) continue;
    const manual =
      input.manual !== undefined &&
      (input.manual.partition === undefined || input.manual.partition === partition);
    const deadline = input.deadlinePartitions.has(partition);
    const size = p.count >= o.maxRequests;
    const bytes = p.bytes >= o.maxBytes;
    const time = p.oldest !== null && now - p.oldest >= o.maxWaitMs;
    // The floor keeps small batches back (it matters for the bytes trigger: a few large requests)
    // unless time, a deadline or an operator forces them.
    if (p.count < o.minRequests && !(manual || deadline || time)) continue;
    const reason: FlushReason | null = manual
      ? 'manual'
      : deadline
        ? 'deadline'
        : size
          ? 'size'
          : bytes
            ? 'bytes'
            : time
              ? 'time'
              : null;
    if (!reason) continue;
    const mode = manual || deadline || time ? 'drain' : 'full';
    // Groups holding an urgent request go first, so that a partition given less room than its
    // backlog still submits its deadlines; then the oldest.
    const urgent = input.deadlinePartitions.get(partition);
    const groups = groupsByPartition.get(partition) ?? [];
    plans.push({
      partition,
      reason,
      mode,
      groups: urgent
        ? [...groups.filter((g) => urgent.has(g)), ...groups.filter((g) => !urgent.has(g))]
        : groups,
      avgItemBytes: Math.ceil(p.bytes / p.count),
    });
  }
  // The most pressing first: manual, deadline, then by oldest request.
  const rank: Record<FlushReason, number> = { manual: 0, deadline: 1, size: 2, bytes: 2, time: 2, retry: 2 };
  const oldest = (p: PartitionPlan) => input.overview.partitions.get(p.partition)?.oldest ?? now;
  return plans.sort((a, b) => rank[a.reason] - rank[b.reason] || oldest(a) - oldest(b));
}

/**
 * Partitions holding a ready request whose deadline requires submission now, and the groups
 * holding them: a batch may take 24 h, the slack is our margin, and the next tick may come only
 * `tickMs` later.
 */
export async function deadlinePartitions(
  store: Store,
  o: ResolvedOptions,
  now: number,
): Promise<UrgentRequests> {
  const cids = await store.pending.deadlinesBefore(now + BATCH_WINDOW_MS + o.deadlineSlackMs + o.tickMs);
  const out: UrgentRequests = new Map();
  for (let i = 0; i < cids.length; i += 1000) {
    const recs = await store.records.peek(cids.slice(i, i + 1000), [
      'partition',
      'group',
      'readyAt',
      'state',
    ]);
    for (const r of recs) {
      if (r?.state !== 'queued' || Number(r.readyAt) > now) continue;
      const groups = out.get(r.partition) ?? new Map<string, number>();
      groups.set(r.group, (groups.get(r.group) ?? 0) + 1);
      out.set(r.partition, groups);
    }
  }
  return out;
}

/** True while a 'full' plan's trigger still holds after some batches went out. */
export async function fullTriggerHolds(store: Store, o: ResolvedOptions, partition: string) {
  const { count, bytes } = await store.pending.ofPartition(partition);
  return count >= o.maxRequests || bytes >= o.maxBytes;
}
