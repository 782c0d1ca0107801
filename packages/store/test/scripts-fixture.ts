/**
 * What the store's tests share, the per-script ones above all: a store on a fresh prefix per test,
 * request items and raw reads of the keys the scripts write (through `rawStore`, so a test checks
 * what is stored, not what a store method makes of it).
 */
import { rawStore } from '@nightshift/store/testing';
import { useRedis } from '@nightshift/testing';
import { beforeEach } from 'vitest';
import { type ApplyItem, createRedis, type EnqueueItem, Store } from '../src/index.js';

export const T0 = 1_700_000_000_000;
export const entry = { attempt: 1, batchId: 'b1', outcome: 'succeeded' as const, at: T0 };
const tokens = { input: 10, cacheWrite5m: 1, cacheWrite1h: 2, cacheRead: 3, output: 4 };

/** A Redis server for the file and a fresh store per test. */
export function useScriptStore() {
  const fx = useRedis((url) => createRedis({ url }));
  let n = 0;
  const ctx = {
    store: undefined as unknown as Store,
    get redis() {
      return fx.redis;
    },
    get url() {
      return fx.url;
    },
    get keys() {
      return rawStore(ctx.store).keys;
    },
    /** The record hash as stored ({} when there is none). */
    record: (cid: string) => fx.redis.hgetall(rawStore(ctx.store).keys.record(cid)),
    /** One field of the record hash (null when absent). */
    field: (cid: string, f: string) => fx.redis.hget(rawStore(ctx.store).keys.record(cid), f),
    /** A hash as stored. */
    hash: (key: string) => fx.redis.hgetall(key),
    /** The members of a sorted set with their scores, as numbers. */
    zset: async (key: string) => {
      const flat = await fx.redis.zrange(key, '0', '-1', 'WITHSCORES');
      const out: Record<string, number> = {};
      for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = Number(flat[i + 1]);
      return out;
    },
    /** Opens a submission as a manual flush would. */
    openSubmission: (id: string, now = T0) =>
      ctx.store.submissions.open({
        id,
        partition: 'default',
        reason: 'manual',
        owner: 'x',
        leaseMs: 1000,
        now,
      }),
    /** Enqueues the items and claims every ready one of group g1 into `sub`. */
    claimed: async (sub: string, items: EnqueueItem[], now = T0) => {
      await ctx.store.records.enqueue(items, { now });
      await ctx.openSubmission(sub, now);
      return ctx.store.submissions.claim('g1', sub, 1000, 1e9, now);
    },
  };
  beforeEach(() => {
    ctx.store = new Store(fx.redis, `s${++n}`);
  });
  return ctx;
}

export const item = (cid: string, over: Partial<EnqueueItem> = {}): EnqueueItem => ({
  cid,
  feature: 'classify',
  model: 'claude-haiku-4-5',
  params: JSON.stringify({
    model: 'claude-haiku-4-5',
    max_tokens: 10,
    messages: [{ role: 'user', content: cid }],
  }),
  phash: `h-${cid}`,
  meta: '',
  deadline: null,
  partition: 'default',
  group: 'g1',
  bytes: 100,
  realtimeAllowed: false,
  state: 'queued',
  ...over,
});

/** A batch as `batches.create` answers it at T0, in progress for its 24 hours. */
export const batch = (id: string) => ({
  id,
  created_at: new Date(T0).toISOString(),
  expires_at: new Date(T0 + 86_400_000).toISOString(),
  processing_status: 'in_progress',
});

/** What a manual flush commits with its batch: `count` requests of 100 bytes. */
export const commitMeta = (count: number) => ({
  count,
  bytes: count * 100,
  partition: 'default',
  reason: 'manual' as const,
});

export const success = (
  cid: string,
  over: Partial<Extract<ApplyItem, { action: 'success' }>> = {},
): ApplyItem => ({
  cid,
  action: 'success',
  mode: 'batch',
  tokens,
  costNano: 1000,
  listNano: 2000,
  entry,
  batchId: 'b1',
  delivery: 'res-b1-x',
  ...over,
});

/** The attempt of an errored result line, as requeue and dead items carry it. */
const errored = { ...entry, outcome: 'errored' as const };

export const requeue = (cid: string, guardSub: string, readyAt: number, countsAttempt = true): ApplyItem => ({
  cid,
  action: 'requeue',
  guardSub,
  readyAt,
  error: { type: 'api_error', message: 'overloaded' },
  entry: errored,
  countsAttempt,
});

export const dead = (cid: string, guardSub: string, reason = 'invalid_request_error'): ApplyItem => ({
  cid,
  action: 'dead',
  guardSub,
  reason,
  error: { type: 'invalid_request_error', message: 'bad' },
  entry: errored,
});

export const toRealtime = (cid: string, guardSub: string): ApplyItem => ({
  cid,
  action: 'realtime',
  guardSub,
  entry: { ...entry, outcome: 'expired' as const },
});
