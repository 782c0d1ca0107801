import type { BatchFields } from '@nightshift/shared';
import type { StoreCore } from './core.js';
import type { Store } from './store.js';

/** What we know of each Message Batch, and which are in flight (collected.lua). */
export class Batches {
  constructor(
    private readonly core: StoreCore,
    private readonly store: Store,
  ) {}

  async get(id: string): Promise<BatchFields | null> {
    const h = await this.core.redis.hgetall(this.core.keys.batch(id));
    return h?.id ? (h as unknown as BatchFields) : null;
  }

  async update(id: string, fields: Partial<Record<keyof BatchFields, string | number>>) {
    await this.core.redis.hset(this.core.keys.batch(id), fields as Record<string, string | number>);
  }

  async inflightIds(): Promise<string[]> {
    return this.core.redis.smembers(this.core.keys.inflight);
  }

  /** True while the batch's results are not yet applied. */
  async isInflight(id: string): Promise<boolean> {
    return (await this.core.redis.sismember(this.core.keys.inflight, id)) === 1;
  }

  /** Puts a batch back in flight (a pass over it is to be redone). */
  async returnToFlight(id: string): Promise<void> {
    await this.core.redis.sadd(this.core.keys.inflight, id);
  }

  /** True when we hold a record of this batch. */
  async has(id: string): Promise<boolean> {
    return (await this.core.redis.exists(this.core.keys.batch(id))) === 1;
  }

  /** How many batches we know (every batch until retention deletes its record). */
  count(): Promise<number> {
    return this.core.redis.zcard(this.core.keys.batches);
  }

  /**
   * Marks a batch's results as applied: it leaves the in-flight set (batch.ended, see collected.lua).
   * True when the batch became collected now, false when it was already.
   */
  async markCollected(id: string, counts: Record<string, number>, now = Date.now()): Promise<boolean> {
    return Number(await this.core.script('nsCollected', id, now, JSON.stringify(counts))) === 1;
  }

  /** The batch is gone at the API (its members were requeued): state `lost`, out of flight. */
  async markLost(id: string, counts: Record<string, number>, now = Date.now()) {
    await this.core.redis
      .multi()
      .hset(this.core.keys.batch(id), { state: 'lost', applied: now, counts: JSON.stringify(counts) })
      .srem(this.core.keys.inflight, id)
      .exec();
  }

  /** Known batches, newest first. */
  async list(limit = 50, offset = 0): Promise<BatchFields[]> {
    const ids = await this.core.redis.zrevrange(this.core.keys.batches, offset, offset + limit - 1);
    const out = await Promise.all(ids.map((id) => this.get(id)));
    return out.filter((b): b is BatchFields => b !== null);
  }

  async members(id: string): Promise<string[]> {
    const b = await this.get(id);
    return b ? this.store.submissions.members(b.sub) : [];
  }
}
