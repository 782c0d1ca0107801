import type { StoreCore } from './core.js';

const TOUCH_CHUNK = 1000;

/** Requests on the real-time path (the `realtime` index of when each started). */
export class Realtime {
  constructor(private readonly core: StoreCore) {}

  /** Custom_ids in the real-time state since before `before` (crashed real-time calls). */
  async stale(before: number): Promise<string[]> {
    return this.core.redis.zrangebyscore(this.core.keys.realtime, '-inf', before);
  }

  /**
   * Marks real-time requests as being worked on now (their `since` becomes `now`), so that another
   * sweep does not pick the same stale request while a retry is in progress. Only existing entries
   * are touched.
   */
  async touch(cids: string[], now = Date.now()): Promise<void> {
    // ZADD key XX + 2 per member, within the managed services' argument limit (call-limits.ts).
    for (let i = 0; i < cids.length; i += TOUCH_CHUNK) {
      const args: (string | number)[] = [];
      for (const cid of cids.slice(i, i + TOUCH_CHUNK)) args.push(now, cid);
      await this.core.redis.zadd(this.core.keys.realtime, 'XX', ...args);
    }
  }
}
