import type { StoreCore } from './core.js';

/** The state of the create backoff. */
export interface BackoffState {
  /** Consecutive failed creates. */
  failures: number;
  /** No create before this time (ms). */
  until: number;
  reason: string;
}

/** The batcher's create backoff (hash `backoff`), shared by every batcher process. */
export class Backoff {
  constructor(private readonly core: StoreCore) {}

  async read(): Promise<BackoffState> {
    const h = await this.core.redis.hgetall(this.core.keys.backoff);
    return { failures: Number(h.failures ?? 0), until: Number(h.until ?? 0), reason: h.reason ?? '' };
  }

  /**
   * Records one more failed create: the next create waits `base · 2^(failures−1)`, capped, or the
   * API's `retry-after` when that is longer.
   */
  async bump(o: {
    baseMs: number;
    maxMs: number;
    now: number;
    reason: string;
    retryAfterMs?: number;
  }): Promise<BackoffState> {
    const { redis, keys } = this.core;
    const failures = await redis.hincrby(keys.backoff, 'failures', 1);
    const wait = Math.max(
      Math.min(o.baseMs * 2 ** Math.min(failures - 1, 30), o.maxMs),
      Math.min(o.retryAfterMs ?? 0, o.maxMs),
    );
    const until = o.now + wait;
    await redis.hset(keys.backoff, { until, reason: o.reason });
    return { failures, until, reason: o.reason };
  }

  /** A create succeeded: no more waiting. */
  async clear(): Promise<void> {
    await this.core.redis.del(this.core.keys.backoff);
  }
}
