import { randomBytes } from 'node:crypto';
import type { RedisClient } from './connection.js';
import { coreOf } from './core.js';
import type { Store } from './store.js';

// Compare-and-extend / compare-and-delete: only the holder's token may touch the lock.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The batcher's flush lock: `SET key token NX PX lease`, renewed while held. Belt and braces next to the
 * `{flush}` queue's global concurrency of 1 (a scheduler run can overlap a slow flush, and a
 * BullMQ job lock can be lost): whoever cannot take it skips its flush.
 */
export class FlushLock {
  private readonly token = randomBytes(12).toString('hex');
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private readonly redis: RedisClient;
  private readonly key: string;

  /** `onError`: a renewal failed to reach Redis (the lease may lapse; the next renewal retries). */
  constructor(
    store: Store,
    private readonly leaseMs: number,
    private readonly onError: (err: Error) => void,
  ) {
    const { redis, keys } = coreOf(store);
    this.redis = redis;
    this.key = keys.flushLock;
  }

  /** Takes the lock if free; starts renewing it. */
  async acquire(): Promise<boolean> {
    const ok = await this.redis.set(this.key, this.token, 'PX', this.leaseMs, 'NX');
    if (ok !== 'OK') return false;
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
    return true;
  }

  /** True once a renewal found the lock gone or taken (the flush should stop starting batches). */
  isLost(): boolean {
    return this.lost;
  }

  private async renew() {
    try {
      const ok = await this.redis.eval(RENEW, 1, this.key, this.token, this.leaseMs);
      if (Number(ok) !== 1) this.lost = true;
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Stops renewing and deletes the lock if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
