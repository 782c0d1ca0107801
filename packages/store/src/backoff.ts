import { coreOf } from './core.js';
import type { Store } from './store.js';

/** The batcher's create backoff (hash `backoff`): shared by every batcher process. */
export interface BackoffState {
  /** Consecutive failed creates. */
  failures: number;
  /** No create before this time (ms). */
  until: number;
  reason: string;
}

export async function readBackoff(store: Store): Promise<BackoffState> {
  const { redis, keys } = coreOf(store);
  const h = await redis.hgetall(keys.backoff);
  return { failures: Number(h.failures ?? 0), until: Number(h.until ?? 0), reason: h.reason ?? '' };
}

/**
 * Records one more failed create: the next create waits `base · 2^(failures−1)`, capped, or the
 * API's `retry-after` when that is longer.
 */
export async function bumpBackoff(
  store: Store,
  o: { baseMs: number; maxMs: number; now: number; reason: string; retryAfterMs?: number },
): Promise<BackoffState> {
  const { redis, keys } = coreOf(store);
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
export async function clearBackoff(store: Store): Promise<void> {
  const { redis, keys } = coreOf(store);
  await redis.del(keys.backoff);
}
