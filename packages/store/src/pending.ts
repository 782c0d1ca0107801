import type { StoreCore } from './core.js';

/** The pending index: queued requests per group and partition, deadlines. */
export class Pending {
  constructor(private readonly core: StoreCore) {}

  /** Queued requests per partition, the groups oldest first, and the earliest deadline. */
  async overview(now = Date.now()) {
    const [counts, bytes, groupsRaw, deadline, gp] = await Promise.all([
      this.core.redis.hgetall(this.core.keys.partitionCount),
      this.core.redis.hgetall(this.core.keys.partitionBytes),
      this.core.redis.zrange(this.core.keys.groups, '0', '-1', 'WITHSCORES'),
      this.core.redis.zrange(this.core.keys.deadlines, '0', '0', 'WITHSCORES'),
      this.core.redis.hgetall(this.core.keys.groupPartition),
    ]);
    const groups: { group: string; partition: string; oldest: number }[] = [];
    for (let i = 0; i < groupsRaw.length; i += 2) {
      const group = groupsRaw[i]!;
      groups.push({ group, partition: gp[group] ?? '', oldest: Number(groupsRaw[i + 1]) });
    }
    const partitions = new Map<string, { count: number; bytes: number; oldest: number | null }>();
    for (const [p, c] of Object.entries(counts)) {
      if (Number(c) > 0) partitions.set(p, { count: Number(c), bytes: Number(bytes[p] ?? 0), oldest: null });
    }
    for (const g of groups) {
      const p = partitions.get(g.partition);
      if (p && (p.oldest === null || g.oldest < p.oldest)) p.oldest = g.oldest;
    }
    let total = 0;
    let oldest: number | null = null;
    for (const p of partitions.values()) {
      total += p.count;
      if (p.oldest !== null && (oldest === null || p.oldest < oldest)) oldest = p.oldest;
    }
    return {
      total,
      oldestAgeMs: oldest === null ? null : Math.max(0, now - oldest),
      partitions,
      groups,
      earliestDeadline: deadline.length ? Number(deadline[1]) : null,
    };
  }

  /** How many of a group's queued requests are ready at `now`. */
  readyCount(group: string, now: number): Promise<number> {
    return this.core.redis.zcount(this.core.keys.pending(group), '-inf', now);
  }

  /** Up to `limit` custom_ids of a group ready at `now`, in ready order. */
  readyIds(group: string, now: number, limit: number): Promise<string[]> {
    return this.core.redis.zrangebyscore(this.core.keys.pending(group), '-inf', now, 'LIMIT', 0, limit);
  }

  /** The first `limit` queued requests of a group (ready or not), with their ready times. */
  async inGroup(group: string, limit: number): Promise<{ cid: string; ready: number }[]> {
    if (limit <= 0) return [];
    const raw = await this.core.redis.zrange(
      this.core.keys.pending(group),
      '0',
      String(limit - 1),
      'WITHSCORES',
    );
    const out: { cid: string; ready: number }[] = [];
    for (let i = 0; i < raw.length; i += 2) out.push({ cid: raw[i]!, ready: Number(raw[i + 1]) });
    return out;
  }

  /** A partition's queued request count and bytes. */
  async ofPartition(partition: string): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([
      this.core.redis.hget(this.core.keys.partitionCount, partition),
      this.core.redis.hget(this.core.keys.partitionBytes, partition),
    ]);
    return { count: Number(count ?? 0), bytes: Number(bytes ?? 0) };
  }

  /** Queued custom_ids whose deadline is at or before `by`. */
  async deadlinesBefore(by: number): Promise<string[]> {
    return this.core.redis.zrangebyscore(this.core.keys.deadlines, '-inf', by);
  }
}
