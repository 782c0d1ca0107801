import type { RedisClient } from '@nightshift/store';
import { Cluster, type Redis } from 'ioredis';
import type { Ctx } from './types.js';

const DAY = 86_400_000;
const SCAN_COUNT = 1000;
const FINAL = new Set(['succeeded', 'dead']);

/**
 * Yields keys matching `pattern` a page at a time (SCAN, never KEYS). On a Cluster every master is
 * scanned; our keys all live in the `{req}` slot, so only one of them answers with any.
 */
async function* scanKeys(redis: RedisClient, pattern: string): AsyncGenerator<string[]> {
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}

/** Deletes final records (succeeded / dead) whose final time is before the cutoff. */
async function purgeRecords(ctx: Ctx, cutoff: number): Promise<number> {
  const { redis } = ctx.store;
  let purged = 0;
  for await (const keys of scanKeys(redis, ctx.store.keys.record('*'))) {
    const pipe = redis.pipeline();
    for (const k of keys) pipe.hmget(k, 'state', 'done');
    const replies = (await pipe.exec()) ?? [];
    const doomed = keys.filter((_, i) => {
      const [state, done] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
      return !!state && FINAL.has(state) && Number(done) > 0 && Number(done) < cutoff;
    });
    if (doomed.length) purged += Number(await redis.unlink(...doomed));
  }
  return purged;
}

/** Deletes collected or lost batch records whose final time is before the cutoff. */
async function purgeBatches(ctx: Ctx, cutoff: number): Promise<number> {
  const { redis, keys } = ctx.store;
  let purged = 0;
  let offset = 0;
  for (;;) {
    const ids = await redis.zrangebyscore(keys.batches, '-inf', cutoff, 'LIMIT', offset, 500);
    if (ids.length === 0) break;
    const pipe = redis.pipeline();
    for (const id of ids)
      pipe.hmget(keys.batch(id), 'state', 'applied', 'submitted').sismember(keys.inflight, id);
    const replies = (await pipe.exec()) ?? [];
    const doomed = ids.filter((_, i) => {
      const [state, applied, submitted] = (replies[2 * i]?.[1] as (string | null)[] | undefined) ?? [];
      const inflight = Number(replies[2 * i + 1]?.[1]) === 1;
      const final = Number(applied) || Number(submitted) || 0;
      return !inflight && (state === null || state === 'collected' || state === 'lost') && final < cutoff;
    });
    offset += ids.length - doomed.length;
    if (doomed.length === 0) continue;
    const del = redis.multi();
    for (const id of doomed) {
      del.unlink(keys.batch(id)).zrem(keys.batches, id);
      for (const code of ['batch-lost', 'unknown-custom-ids']) del.hdel(keys.alerts, `${code}:${id}`);
    }
    await del.exec();
    purged += doomed.length;
  }
  return purged;
}

/** Deletes resolved submissions (and member lists) resolved before the cutoff whose batch is not in flight. */
async function purgeSubmissions(ctx: Ctx, cutoff: number): Promise<number> {
  const { redis, keys } = ctx.store;
  let purged = 0;
  for await (const found of scanKeys(redis, keys.submission('*'))) {
    const subKeys = found.filter((k) => !k.endsWith(':m'));
    if (subKeys.length === 0) continue;
    const pipe = redis.pipeline();
    for (const k of subKeys) pipe.hmget(k, 'state', 'resolved', 'created', 'batch');
    const replies = (await pipe.exec()) ?? [];
    for (let i = 0; i < subKeys.length; i++) {
      const k = subKeys[i]!;
      const [state, resolved, created, batch] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
      const at = Number(resolved) || Number(created) || 0;
      if ((state !== 'submitted' && state !== 'released') || at <= 0 || at >= cutoff) continue;
      if (batch && (await redis.sismember(keys.inflight, batch))) continue;
      const id = k.slice(keys.submission('').length);
      if (await redis.sismember(keys.openSubmissions, id)) continue;
      await redis.unlink(k, keys.submissionMembers(id));
      purged++;
    }
  }
  return purged;
}

/**
 * Retention: records, submissions and batch records whose final time is older than retentionDays
 * are deleted, in pages (SCAN and bounded ranges), never in one large command. The cost ledger is
 * kept: it is small and it is the history.
 */
export async function purge(ctx: Ctx): Promise<{ records: number; submissions: number; batches: number }> {
  const cutoff = ctx.now() - ctx.opts.retentionDays * DAY;
  const records = await purgeRecords(ctx, cutoff);
  const batches = await purgeBatches(ctx, cutoff);
  const submissions = await purgeSubmissions(ctx, cutoff);
  if (records + batches + submissions > 0) {
    ctx.log.info({ records, batches, submissions, retentionDays: ctx.opts.retentionDays }, 'retention purge');
  }
  return { records, submissions, batches };
}
