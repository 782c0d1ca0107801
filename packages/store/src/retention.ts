import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './connection.js';
import type { StoreCore } from './core.js';
import { coreOf } from './core.js';
import type { Store } from './store.js';

const SCAN_COUNT = 1000;
const PAGE = 1000;
const FINAL = new Set(['succeeded', 'dead', 'canceled']);

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

/** Deletes final records (succeeded / dead / canceled) whose final time is before the cutoff, oldest first. */
async function purgeRecords(store: Store, cutoff: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const { deleted, more } = await store.retention.purgeFinal(cutoff, PAGE);
    purged += deleted;
    if (!more) return purged;
  }
}

/** Deletes collected or lost batch records whose final time is before the cutoff. */
async function purgeBatches(store: Store, cutoff: number): Promise<number> {
  const { redis, keys } = coreOf(store);
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

/**
 * Deletes resolved submissions (with their member lists) resolved before the cutoff, unless still
 * open or their batch is still in flight, from the index of resolved submissions.
 */
async function purgeSubmissions(store: Store, cutoff: number): Promise<number> {
  const { redis, keys } = coreOf(store);
  let purged = 0;
  let offset = 0;
  for (;;) {
    const ids = await redis.zrangebyscore(
      keys.resolvedSubmissions,
      '-inf',
      `(${cutoff}`,
      'LIMIT',
      offset,
      PAGE,
    );
    if (ids.length === 0) return purged;
    const read = redis.pipeline();
    for (const id of ids) read.hget(keys.submission(id), 'batch').sismember(keys.openSubmissions, id);
    const replies = (await read.exec()) ?? [];
    const batchOf = ids.map((_, i) => (replies[2 * i]?.[1] as string | null) ?? '');
    const open = ids.map((_, i) => Number(replies[2 * i + 1]?.[1]) === 1);
    const flying = redis.pipeline();
    for (const b of batchOf) flying.sismember(keys.inflight, b || '-');
    const inflight = ((await flying.exec()) ?? []).map(([, n]) => Number(n) === 1);
    const doomed = ids.filter((_, i) => !open[i] && !inflight[i]);
    offset += ids.length - doomed.length;
    if (doomed.length === 0) continue;
    const del = redis.multi();
    for (const id of doomed) {
      // The side list of requests the API refused at create time goes with its submission.
      del.unlink(keys.submission(id), keys.submissionMembers(id), keys.rejectedMembers(id));
      del.zrem(keys.resolvedSubmissions, id);
    }
    await del.exec();
    purged += doomed.length;
  }
}

/**
 * Records and submissions that became final before the retention indexes existed are indexed once
 * (SCAN, in pages), then never scanned again. Safe to run from several collectors at once.
 */
async function indexLegacy(store: Store, now: number): Promise<void> {
  const { redis, keys } = coreOf(store);
  if (await redis.exists(keys.retentionIndexed)) return;
  for await (const found of scanKeys(redis, keys.record('*'))) {
    const pipe = redis.pipeline();
    for (const k of found) pipe.hmget(k, 'state', 'done');
    const replies = (await pipe.exec()) ?? [];
    const add = redis.pipeline();
    found.forEach((k, i) => {
      const [state, done] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
      if (state && FINAL.has(state) && Number(done) > 0) {
        add.zadd(keys.finals, Number(done), k.slice(keys.record('').length));
      }
    });
    await add.exec();
  }
  for await (const found of scanKeys(redis, keys.submission('*'))) {
    const subKeys = found.filter((k) => !k.endsWith(':m'));
    const pipe = redis.pipeline();
    for (const k of subKeys) pipe.hmget(k, 'state', 'resolved', 'created');
    const replies = (await pipe.exec()) ?? [];
    const add = redis.pipeline();
    subKeys.forEach((k, i) => {
      const [state, resolved, created] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
      const at = Number(resolved) || Number(created) || 0;
      if ((state === 'submitted' || state === 'released') && at > 0) {
        add.zadd(keys.resolvedSubmissions, at, k.slice(keys.submission('').length));
      }
    });
    await add.exec();
  }
  await redis.set(keys.retentionIndexed, String(now));
}

/**
 * Retention: records, submissions and batch records whose final time is before `cutoff` are
 * deleted oldest first from indexes by final time (the records' `final`, `subs-resolved`,
 * `batches`), in pages, never in one large command and never by walking the keyspace: a pass
 * costs what it deletes, not what is kept. The cost ledger is kept: it is small and it is the history.
 */
async function purgeBefore(
  store: Store,
  cutoff: number,
  now: number,
): Promise<{ records: number; submissions: number; batches: number }> {
  await indexLegacy(store, now);
  const records = await purgeRecords(store, cutoff);
  const batches = await purgeBatches(store, cutoff);
  const submissions = await purgeSubmissions(store, cutoff);
  return { records, submissions, batches };
}

/** Retention: what became final long enough ago leaves Redis (purge.lua and the pages below). */
export class Retention {
  constructor(
    private readonly core: StoreCore,
    private readonly store: Store,
  ) {}

  /**
   * Retention: deletes up to `limit` final records whose final time is before `cutoff`, oldest first,
   * from the index of final records (see purge.lua). `more` is false once nothing older is indexed.
   */
  async purgeFinal(cutoff: number, limit = 1000): Promise<{ deleted: number; more: boolean }> {
    const [deleted, seen] = (await this.core.script('nsPurge', cutoff, limit)) as [number, number];
    return { deleted: Number(deleted), more: Number(seen) === limit };
  }

  /** Retention: deletes what became final before `cutoff` (see retention.ts). */
  purgeBefore(cutoff: number, now = Date.now()) {
    return purgeBefore(this.store, cutoff, now);
  }
}
