import type {
  Alert,
  AttemptRecord,
  BatchFields,
  CircuitOpening,
  CircuitState,
  FlushReason,
  Heartbeat,
  RecordFields,
  RequestStatus,
} from '@nightshift/shared';
import { type BackoffState, bumpBackoff, clearBackoff, readBackoff } from './backoff.js';
import { type CancelCode, cancelRequests } from './cancel.js';
import type { RedisClient } from './connection.js';
import { bindCore } from './core.js';
import { type DrainMark, type FeatureProgress, featureProgress, markDrain } from './drain.js';
import { FlushLock } from './flush-lock.js';
import { type StoreKeys, storeKeys } from './keys.js';
import { purgeBefore } from './retention.js';
import { type ScriptName, scripts } from './scripts.js';

/** One request as the producer writes it. */
export interface EnqueueItem {
  cid: string;
  feature: string;
  model: string;
  params: string;
  phash: string;
  meta: string;
  deadline: number | null;
  partition: string;
  group: string;
  bytes: number;
  realtimeAllowed: boolean;
  /** 'realtime' writes the record off the batch path (the producer calls the API itself). */
  state: 'queued' | 'realtime';
  /** Webhook endpoint names to notify of this request's events, joined by ','. */
  notify?: string;
}

/** A decided outcome for one request (see apply.lua). */
export type ApplyItem =
  | {
      cid: string;
      action: 'success';
      mode: 'batch' | 'realtime';
      tokens: {
        input: number;
        cacheWrite5m: number;
        cacheWrite1h: number;
        cacheRead: number;
        output: number;
      };
      costNano: number;
      listNano: number;
      /** The API ran it US-only (`usage.inference_geo: "us"`), and what that added to costNano. */
      usInference?: boolean;
      usPremiumNano?: number;
      entry: AttemptRecord;
      batchId: string | null;
      /** The `{results}` job that delivers this result (the record's `dlv`). */
      delivery: string;
    }
  | {
      cid: string;
      action: 'requeue';
      guardSub: string;
      readyAt: number;
      error: object | null;
      entry: AttemptRecord;
      countsAttempt: boolean;
    }
  | {
      cid: string;
      action: 'dead';
      guardSub: string;
      reason: string;
      error: object | null;
      entry: AttemptRecord;
    }
  | { cid: string; action: 'realtime'; guardSub: string; entry: AttemptRecord };

export interface SubmissionFields {
  id: string;
  state: 'claiming' | 'creating' | 'submitted' | 'released';
  partition: string;
  reason: FlushReason;
  owner: string;
  created: string;
  lease: string;
  count: string;
  bytes: string;
  batch?: string;
  /** When batches.create was called (ms), for reconciliation by time. */
  createAt?: string;
  duplicates?: string;
}

export interface LedgerRow {
  mode: 'batch' | 'realtime';
  feature: string;
  model: string;
  day: string;
  results: number;
  tokens: { input: number; cacheWrite5m: number; cacheWrite1h: number; cacheRead: number; output: number };
  /** Nano-dollars. */
  costNano: number;
  listNano: number;
  /** Results the API ran US-only (1.1×), and the nano-dollars that added to costNano. */
  usResults: number;
  usPremiumNano: number;
}

export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The field of an alert in the `alerts` hash: `code`, `code:batchId` or `code:model`. */
const alertField = (a: Pick<Alert, 'code' | 'batchId' | 'model'>) =>
  a.batchId ? `${a.code}:${a.batchId}` : a.model ? `${a.code}:${a.model}` : a.code;

const CHUNK = 1000;
/** Separates the values of one record in a peek reply (see peek.lua). */
const PEEK_SEP = '\x1f';

/**
 * The request store: request records, the pending index, submissions, batches, the cost ledger
 * and the small operational hashes (heartbeats, alerts, circuit). Every multi-key change is one
 * Lua script (see scripts/), so each transition is atomic.
 */
export class Store {
  private readonly redis: RedisClient;
  private readonly keys: StoreKeys;
  private readonly run: Record<
    ScriptName,
    (routeKey: string, ...args: (string | number)[]) => Promise<unknown>
  >;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    this.redis = redis;
    this.keys = storeKeys(prefix);
    this.run = scripts(redis);
    bindCore(this, {
      redis,
      keys: this.keys,
      prefix,
      script: (name, ...args) => this.call(name, ...args),
    });
  }

  private call(name: ScriptName, ...args: (string | number)[]) {
    return this.run[name](this.keys.stats, this.keys.base, ...args);
  }

  /** Inserts records idempotently; one code per item (see enqueue.lua). Chunked; each chunk atomic. */
  async enqueue(items: EnqueueItem[], opts: { replace?: boolean; now?: number } = {}): Promise<string[]> {
    const now = opts.now ?? Date.now();
    const codes: string[] = [];
    for (let i = 0; i < items.length; i += CHUNK) {
      const chunk = items.slice(i, i + CHUNK);
      const args: (string | number)[] = [now, opts.replace ? '1' : '0', chunk.length];
      for (const it of chunk) {
        args.push(
          it.cid,
          it.feature,
          it.model,
          it.params,
          it.phash,
          it.meta,
          it.deadline ?? '',
          it.partition,
        );
        args.push(it.group, it.bytes, it.realtimeAllowed ? '1' : '', it.state, it.notify ?? '');
      }
      codes.push(...((await this.call('nsEnqueue', ...args)) as string[]));
    }
    return codes;
  }

  /** Reads some fields of many records (pipelined); null for unknown ids. */
  async peek<F extends keyof RecordFields>(
    cids: string[],
    fields: F[],
  ): Promise<(Pick<RecordFields, F> | null)[]> {
    if (cids.length === 0) return [];
    const paramsAt = fields.indexOf('params' as F);
    const pipe = this.redis.pipeline();
    for (const cid of cids) {
      pipe.hmget(this.keys.record(cid), ...(fields as string[]));
      if (paramsAt >= 0) pipe.get(this.keys.params(cid));
    }
    const replies = (await pipe.exec()) ?? [];
    const step = paramsAt >= 0 ? 2 : 1;
    return cids.map((_, c) => {
      const [err, vals] = replies[c * step]!;
      if (err) throw err;
      const arr = vals as (string | null)[];
      // params live in their own key (a record written before that still holds them in the hash).
      if (paramsAt >= 0) arr[paramsAt] ??= (replies[c * step + 1]?.[1] as string | null) ?? null;
      if (arr.every((v) => v === null)) return null;
      const rec = {} as Record<string, string>;
      fields.forEach((f, i) => {
        rec[f as string] = arr[i] ?? '';
      });
      return rec as Pick<RecordFields, F>;
    });
  }

  /**
   * How many of the given custom_ids have a record: one EXISTS per 1,000 ids (all keys share the
   * `{req}` slot). Read-only; lets a bulk pre-check skip `peek` for slices that are all new.
   */
  async countRecords(cids: string[]): Promise<number> {
    const counts = await Promise.all(
      Array.from({ length: Math.ceil(cids.length / CHUNK) }, (_, i) =>
        this.redis.exists(...cids.slice(i * CHUNK, (i + 1) * CHUNK).map((c) => this.keys.record(c))),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Same answer as `peek`, read by one script call per 1,000 ids (see peek.lua): far less client
   * work per record than a pipeline of HMGETs, for hot paths that read thousands of records.
   */
  async peekMany<F extends keyof RecordFields>(
    cids: string[],
    fields: F[],
  ): Promise<(Pick<RecordFields, F> | null)[]> {
    const out: (Pick<RecordFields, F> | null)[] = [];
    for (let i = 0; i < cids.length; i += CHUNK) {
      const chunk = cids.slice(i, i + CHUNK);
      const rows = (await this.call('nsPeek', fields.length, ...(fields as string[]), ...chunk)) as (
        | string
        | string[]
        | null
      )[];
      for (const row of rows) {
        if (row === null) {
          out.push(null);
          continue;
        }
        const vals = typeof row === 'string' ? row.split(PEEK_SEP) : row;
        const rec = {} as Record<string, string>;
        for (let j = 0; j < fields.length; j++) rec[fields[j] as string] = vals[j] ?? '';
        out.push(rec as Pick<RecordFields, F>);
      }
    }
    return out;
  }

  async record(cid: string): Promise<RecordFields | null> {
    const [h, params] = await Promise.all([
      this.redis.hgetall(this.keys.record(cid)),
      this.redis.get(this.keys.params(cid)),
    ]);
    if (!h?.cid) return null;
    return { ...h, params: params ?? h.params ?? '' } as unknown as RecordFields;
  }

  /** Where a request is, in the words of `getStatus`. */
  async status(cid: string): Promise<RequestStatus> {
    const rec = await this.record(cid);
    if (!rec) return { customId: cid, state: 'unknown' };
    const history = JSON.parse(rec.hist || '[]') as AttemptRecord[];
    const attempt = Number(rec.attempt);
    const base = {
      customId: cid,
      feature: rec.feature,
      model: rec.model,
      attempt,
      enqueuedAt: Number(rec.enq),
      history,
      ...(rec.deadline ? { deadline: Number(rec.deadline) } : {}),
    };
    const lastError = rec.err ? (JSON.parse(rec.err) as { type: string; message: string }) : null;
    switch (rec.state) {
      case 'queued':
        return attempt > 1
          ? { ...base, state: 'retrying', readyAt: Number(rec.ready), lastError }
          : { ...base, state: 'queued' };
      case 'claimed': {
        const sub = await this.submission(rec.sub);
        if (sub?.state === 'submitted' && sub.batch) {
          const batch = await this.batch(sub.batch);
          return {
            ...base,
            state: 'in_batch',
            batchId: sub.batch,
            batchStatus: batch?.status ?? 'in_progress',
          };
        }
        return { ...base, state: 'submitting' };
      }
      case 'realtime':
        return { ...base, state: 'realtime' };
      case 'succeeded':
        return {
          ...base,
          state: 'succeeded',
          completedAt: Number(rec.done),
          ...(rec.batch ? { batchId: rec.batch } : {}),
        };
      case 'dead':
        return {
          ...base,
          state: 'dead',
          reason: (rec as unknown as { reason?: string }).reason ?? '',
          lastError,
          completedAt: Number(rec.done),
        };
      case 'canceled':
        return { ...base, state: 'canceled', completedAt: Number(rec.done) };
    }
  }

  /**
   * Cancels requests that are still only queued (see cancel.lua): each becomes final, state
   * `canceled`. One code per id: `ok`, `canceled` (already), `not-queued:<state>` or `unknown`.
   */
  cancel(cids: string[], now = Date.now()): Promise<CancelCode[]> {
    return cancelRequests(this, cids, now);
  }

  /** Takes a drain mark on a feature (see drain-mark.lua and drain.ts). */
  markDrain(feature: string, now = Date.now()): Promise<DrainMark> {
    return markDrain(this, feature, now);
  }

  /** A feature's requests not final yet, cumulative outcomes, and its pending drain marks. */
  featureProgress(feature: string): Promise<FeatureProgress> {
    return featureProgress(this, feature);
  }

  // ---- submissions (batcher) -------------------------------------------------------------

  /** Opens a submission before anything is claimed into it. */
  async openSubmission(s: {
    id: string;
    partition: string;
    reason: FlushReason;
    owner: string;
    leaseMs: number;
    now?: number;
  }) {
    const now = s.now ?? Date.now();
    await this.redis
      .multi()
      .hset(this.keys.submission(s.id), {
        id: s.id,
        state: 'claiming',
        partition: s.partition,
        reason: s.reason,
        owner: s.owner,
        created: now,
        lease: now + s.leaseMs,
        count: 0,
        bytes: 0,
      })
      .sadd(this.keys.openSubmissions, s.id)
      .exec();
  }

  async updateSubmission(id: string, fields: Partial<Record<keyof SubmissionFields, string | number>>) {
    await this.redis.hset(this.keys.submission(id), fields as Record<string, string | number>);
  }

  async submission(id: string): Promise<SubmissionFields | null> {
    if (!id) return null;
    const h = await this.redis.hgetall(this.keys.submission(id));
    return h?.id ? (h as unknown as SubmissionFields) : null;
  }

  async openSubmissionIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.openSubmissions);
  }

  /** Drops an id from the open submissions (its hash is gone, or it is resolved already). */
  async forgetOpenSubmission(id: string): Promise<void> {
    await this.redis.srem(this.keys.openSubmissions, id);
  }

  async submissionMembers(id: string, start = 0, stop = -1): Promise<string[]> {
    return this.redis.lrange(this.keys.submissionMembers(id), start, stop);
  }

  /** The members in one range of a submission's list that it still holds (see held.lua). */
  async heldMembers(id: string, start: number, stop: number): Promise<{ read: number; held: string[] }> {
    const [read, ...held] = (await this.call('nsHeld', id, start, stop)) as [number, ...string[]];
    return { read: Number(read), held };
  }

  /**
   * Claims ready requests of one group into a submission (see claim.lua). `perItemOverhead` bytes
   * are counted against `maxBytes` for each request taken (the batcher passes 1 for the joining ',').
   */
  async claim(
    group: string,
    subId: string,
    maxCount: number,
    maxBytes: number,
    now = Date.now(),
    perItemOverhead = 0,
  ) {
    const reply = (await this.call('nsClaim', group, now, maxCount, maxBytes, subId, perItemOverhead)) as (
      | string
      | number
    )[];
    const items: [cid: string, params: string][] = [];
    for (let i = 1; i < reply.length; i += 2) items.push([String(reply[i]), String(reply[i + 1])]);
    return { bytes: Number(reply[0]), items };
  }

  /**
   * Like {@link claim}, but the custom_ids and params come back as raw bytes (no UTF-8 decoding):
   * for the batcher, which only copies them into a request body.
   */
  async claimRaw(
    group: string,
    subId: string,
    maxCount: number,
    maxBytes: number,
    now = Date.now(),
    perItemOverhead = 0,
  ) {
    const run = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)
      .nsClaimBuffer!;
    const reply = (await run.call(
      this.redis,
      this.keys.stats,
      this.keys.base,
      group,
      now,
      maxCount,
      maxBytes,
      subId,
      perItemOverhead,
    )) as (Buffer | number)[];
    const items: [cid: Buffer, params: Buffer][] = [];
    for (let i = 1; i < reply.length; i += 2) items.push([reply[i] as Buffer, reply[i + 1] as Buffer]);
    return { bytes: Number(reply[0]), items };
  }

  /** Puts every member still claimed by the submission back in the queue; marks it released. */
  async release(subId: string, opts: { readyAt?: number; now?: number } = {}): Promise<number> {
    const now = opts.now ?? Date.now();
    const total = await this.redis.llen(this.keys.submissionMembers(subId));
    let released = 0;
    for (let start = 0; start < total || start === 0; start += CHUNK) {
      const last = start + CHUNK >= total ? '1' : '0';
      released += Number(
        await this.call(
          'nsRelease',
          subId,
          now,
          start,
          CHUNK,
          last,
          opts.readyAt === undefined ? '' : opts.readyAt,
        ),
      );
      if (last === '1') break;
    }
    return released;
  }

  /** Records the batch a submission became (see commit.lua). */
  async commit(
    subId: string,
    batch: { id: string; created_at: string; expires_at: string; processing_status: string },
    meta: {
      count: number;
      bytes: number;
      partition: string;
      reason: FlushReason;
      origin?: '' | 'duplicate' | 'adopted';
    },
    now = Date.now(),
  ): Promise<string> {
    return (await this.call(
      'nsCommit',
      subId,
      batch.id,
      now,
      meta.count,
      meta.bytes,
      meta.partition,
      meta.reason,
      Date.parse(batch.created_at),
      Date.parse(batch.expires_at),
      batch.processing_status,
      meta.origin ?? '',
    )) as string;
  }

  /**
   * Moves the given members of one submission into another (both stay claimed). Used to split a
   * submission the API refused as too large, or to set aside requests it rejected.
   */
  async moveMembers(fromSub: string, toSub: string, cids: string[]) {
    const multi = this.redis.multi();
    for (const cid of cids) {
      multi.lrem(this.keys.submissionMembers(fromSub), 1, cid);
      multi.rpush(this.keys.submissionMembers(toSub), cid);
      multi.hset(this.keys.record(cid), 'sub', toSub);
    }
    await multi.exec();
  }

  // ---- results (collector, real-time path) -----------------------------------------------

  /** Applies decided outcomes (see apply.lua); one code per item. Chunked. */
  async apply(items: ApplyItem[], now = Date.now()): Promise<string[]> {
    const codes: string[] = [];
    for (let i = 0; i < items.length; i += CHUNK) {
      const chunk = items.slice(i, i + CHUNK);
      const args: (string | number)[] = [now, utcDay(now), chunk.length];
      for (const it of chunk) {
        const entry = JSON.stringify(it.entry);
        switch (it.action) {
          case 'success': {
            const t = it.tokens;
            const packed = [
              t.input,
              t.cacheWrite5m,
              t.cacheWrite1h,
              t.cacheRead,
              t.output,
              it.costNano,
              it.listNano,
              ...(it.usInference ? [1, it.usPremiumNano ?? 0] : []),
            ];
            args.push(
              it.cid,
              'success',
              it.delivery,
              it.mode === 'batch' ? 'b' : 'r',
              packed.join(','),
              entry,
              it.batchId ?? '',
            );
            break;
          }
          case 'requeue':
            args.push(
              it.cid,
              'requeue',
              it.guardSub,
              it.readyAt,
              it.error ? JSON.stringify(it.error) : '',
              entry,
              it.countsAttempt ? '1' : '0',
            );
            break;
          case 'dead':
            args.push(
              it.cid,
              'dead',
              it.guardSub,
              it.reason,
              it.error ? JSON.stringify(it.error) : '',
              entry,
              '',
            );
            break;
          case 'realtime':
            args.push(it.cid, 'realtime', it.guardSub, '', '', entry, '');
            break;
        }
      }
      const joined = (await this.call('nsApply', ...args)) as string;
      codes.push(...joined.split(','));
    }
    return codes;
  }

  /**
   * Moves the delivery of succeeded records to `jobId` where each still names `from[i]` (see
   * redeliver.lua); true per record moved. The caller adds the job with exactly those results.
   */
  async redeliver(jobId: string, items: { cid: string; from: string }[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const args = items.flatMap((it) => [it.cid, it.from]);
    const joined = (await this.call('nsRedeliver', jobId, ...args)) as string;
    return joined.split(',').map((x) => x === '1');
  }

  /**
   * Retention: deletes up to `limit` final records whose final time is before `cutoff`, oldest first,
   * from the index of final records (see purge.lua). `more` is false once nothing older is indexed.
   */
  async purgeFinal(cutoff: number, limit = 1000): Promise<{ deleted: number; more: boolean }> {
    const [deleted, seen] = (await this.call('nsPurge', cutoff, limit)) as [number, number];
    return { deleted: Number(deleted), more: Number(seen) === limit };
  }

  /** Retention: deletes what became final before `cutoff` (see retention.ts). */
  purgeBefore(cutoff: number, now = Date.now()) {
    return purgeBefore(this, cutoff, now);
  }

  /** Dead-lettered requests back to the queue with a fresh attempt budget. */
  async retryDead(cids: string[], now = Date.now()): Promise<string[]> {
    if (cids.length === 0) return [];
    return (await this.call('nsRetryDead', now, ...cids)) as string[];
  }

  // ---- batches -----------------------------------------------------------------------------

  async batch(id: string): Promise<BatchFields | null> {
    const h = await this.redis.hgetall(this.keys.batch(id));
    return h?.id ? (h as unknown as BatchFields) : null;
  }

  async updateBatch(id: string, fields: Partial<Record<keyof BatchFields, string | number>>) {
    await this.redis.hset(this.keys.batch(id), fields as Record<string, string | number>);
  }

  async inflightBatchIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.inflight);
  }

  /** True while the batch's results are not yet applied. */
  async isInflight(id: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.inflight, id)) === 1;
  }

  /** Puts a batch back in flight (a pass over it is to be redone). */
  async returnToFlight(id: string): Promise<void> {
    await this.redis.sadd(this.keys.inflight, id);
  }

  /** True when we hold a record of this batch. */
  async hasBatch(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.batch(id))) === 1;
  }

  /** How many batches we know (every batch until retention deletes its record). */
  batchCount(): Promise<number> {
    return this.redis.zcard(this.keys.batches);
  }

  /** Marks a batch's results as applied: it leaves the in-flight set (batch.ended, see collected.lua). */
  async markCollected(id: string, counts: Record<string, number>, now = Date.now()) {
    await this.call('nsCollected', id, now, JSON.stringify(counts));
  }

  /** The batch is gone at the API (its members were requeued): state `lost`, out of flight. */
  async markLost(id: string, counts: Record<string, number>, now = Date.now()) {
    await this.redis
      .multi()
      .hset(this.keys.batch(id), { state: 'lost', applied: now, counts: JSON.stringify(counts) })
      .srem(this.keys.inflight, id)
      .exec();
  }

  /** Known batches, newest first. */
  async listBatches(limit = 50, offset = 0): Promise<BatchFields[]> {
    const ids = await this.redis.zrevrange(this.keys.batches, offset, offset + limit - 1);
    const out = await Promise.all(ids.map((id) => this.batch(id)));
    return out.filter((b): b is BatchFields => b !== null);
  }

  async batchMembers(id: string): Promise<string[]> {
    const b = await this.batch(id);
    return b ? this.submissionMembers(b.sub) : [];
  }

  // ---- pending overview (batcher decisions, board, CLI) -------------------------------------

  /** Queued requests per partition, the groups oldest first, and the earliest deadline. */
  async pendingOverview(now = Date.now()) {
    const [counts, bytes, groupsRaw, deadline, gp] = await Promise.all([
      this.redis.hgetall(this.keys.partitionCount),
      this.redis.hgetall(this.keys.partitionBytes),
      this.redis.zrange(this.keys.groups, '0', '-1', 'WITHSCORES'),
      this.redis.zrange(this.keys.deadlines, '0', '0', 'WITHSCORES'),
      this.redis.hgetall(this.keys.groupPartition),
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
    return this.redis.zcount(this.keys.pending(group), '-inf', now);
  }

  /** Up to `limit` custom_ids of a group ready at `now`, in ready order. */
  readyIds(group: string, now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.pending(group), '-inf', now, 'LIMIT', 0, limit);
  }

  /** The first `limit` queued requests of a group (ready or not), with their ready times. */
  async queuedInGroup(group: string, limit: number): Promise<{ cid: string; ready: number }[]> {
    if (limit <= 0) return [];
    const raw = await this.redis.zrange(this.keys.pending(group), '0', String(limit - 1), 'WITHSCORES');
    const out: { cid: string; ready: number }[] = [];
    for (let i = 0; i < raw.length; i += 2) out.push({ cid: raw[i]!, ready: Number(raw[i + 1]) });
    return out;
  }

  /** A partition's queued request count and bytes. */
  async partitionQueued(partition: string): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([
      this.redis.hget(this.keys.partitionCount, partition),
      this.redis.hget(this.keys.partitionBytes, partition),
    ]);
    return { count: Number(count ?? 0), bytes: Number(bytes ?? 0) };
  }

  /** Queued custom_ids whose deadline is at or before `by`. */
  async deadlinesBefore(by: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.deadlines, '-inf', by);
  }

  /** Custom_ids in the real-time state since before `before` (crashed real-time calls). */
  async staleRealtime(before: number): Promise<string[]> {
    return this.redis.zrangebyscore(`${this.keys.base}:realtime`, '-inf', before);
  }

  /**
   * Marks real-time requests as being worked on now (their `since` becomes `now`), so that another
   * sweep does not pick the same stale request while a retry is in progress. Only existing entries
   * are touched.
   */
  async touchRealtime(cids: string[], now = Date.now()): Promise<void> {
    if (cids.length === 0) return;
    const args: (string | number)[] = [];
    for (const cid of cids) args.push(now, cid);
    await this.redis.zadd(`${this.keys.base}:realtime`, 'XX', ...args);
  }

  // ---- ledger --------------------------------------------------------------------------------

  /** Ledger rows for the given UTC days (all days when omitted). */
  async ledger(days?: string[]): Promise<LedgerRow[]> {
    const list = days ?? (await this.redis.smembers(this.keys.ledgerDays));
    const rows = new Map<string, LedgerRow>();
    const hashes = await Promise.all(list.map((d) => this.redis.hgetall(this.keys.ledger(d))));
    list.forEach((day, i) => {
      for (const [field, value] of Object.entries(hashes[i] ?? {})) {
        // `<mode>|<feature>|<model>|<metric>`. Models are validated (no `|`) since the producer
        // checks their syntax; a record of an earlier version may still carry one in its model.
        const parts = field.split('|');
        const [mode = '', feature = ''] = parts;
        const metric = parts[parts.length - 1] ?? '';
        const model = parts.slice(2, -1).join('|');
        const key = `${day}|${mode}|${feature}|${model}`;
        let row = rows.get(key);
        if (!row) {
          row = {
            mode: mode === 'r' ? 'realtime' : 'batch',
            feature,
            model,
            day,
            results: 0,
            tokens: { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 },
            costNano: 0,
            listNano: 0,
            usResults: 0,
            usPremiumNano: 0,
          };
          rows.set(key, row);
        }
        const v = Number(value);
        switch (metric) {
          case 'n':
            row.results += v;
            break;
          case 'in':
            row.tokens.input += v;
            break;
          case 'cw5':
            row.tokens.cacheWrite5m += v;
            break;
          case 'cw1h':
            row.tokens.cacheWrite1h += v;
            break;
          case 'cr':
            row.tokens.cacheRead += v;
            break;
          case 'out':
            row.tokens.output += v;
            break;
          case 'cost':
            row.costNano += v;
            break;
          case 'list':
            row.listNano += v;
            break;
          case 'us':
            row.usResults += v;
            break;
          case 'usp':
            row.usPremiumNano += v;
            break;
        }
      }
    });
    return [...rows.values()];
  }

  async stats(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.stats);
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  async bumpStat(name: string, by = 1) {
    await this.redis.hincrby(this.keys.stats, name, by);
  }

  // ---- liveness, alerts, circuit, flush log ---------------------------------------------------

  async heartbeat(hb: Heartbeat) {
    await this.redis.hset(this.keys.heartbeats, `${hb.role}:${hb.instance}`, JSON.stringify(hb));
  }

  async heartbeats(): Promise<Heartbeat[]> {
    const h = await this.redis.hgetall(this.keys.heartbeats);
    return Object.values(h).map((v) => JSON.parse(v) as Heartbeat);
  }

  async removeHeartbeat(role: string, instance: string) {
    await this.redis.hdel(this.keys.heartbeats, `${role}:${instance}`);
  }

  /**
   * Raises (or refreshes) an alert; the first raise time (`since`) is kept, `at` is this one. A
   * per-batch alert is keyed `code:batchId`, a model alert `code:model`. Returns whether it is new.
   */
  async raiseAlert(alert: Omit<Alert, 'since' | 'at'>, now = Date.now()): Promise<boolean> {
    const field = alertField(alert);
    const prev = await this.redis.hget(this.keys.alerts, field);
    const since = prev ? (JSON.parse(prev) as Alert).since : now;
    await this.redis.hset(this.keys.alerts, field, JSON.stringify({ ...alert, since, at: now }));
    return !prev;
  }

  /** Clears an alert; `subject` is its batch id or model, for alerts keyed by one. */
  async clearAlert(code: Alert['code'], subject?: string) {
    await this.redis.hdel(this.keys.alerts, subject ? `${code}:${subject}` : code);
  }

  async alerts(): Promise<Alert[]> {
    const h = await this.redis.hgetall(this.keys.alerts);
    return Object.values(h)
      .map((v) => JSON.parse(v) as Alert)
      .sort((a, b) => a.since - b.since);
  }

  /** The submission circuit. A circuit opened by an earlier version (billing only) reads as billing. */
  async circuit(): Promise<CircuitState> {
    const h = await this.redis.hgetall(this.keys.circuit);
    if (h.state !== 'open') return { open: false };
    const kind = h.kind === 'account' ? 'account' : 'billing';
    return {
      open: true,
      kind,
      code: h.code || (kind === 'billing' ? 'billing_error' : 'unknown'),
      reason: h.reason ?? '',
      fix: h.fix ?? '',
      since: Number(h.since),
      until: Number(h.until),
      opens: Number(h.opens) || 1,
    };
  }

  /**
   * Opens the circuit (or records a refused probe) and raises its one alert, atomically (see
   * open-circuit.lua): a billing circuit's next probe waits `cooldownMs` doubled per refused probe,
   * at most `maxCooldownMs`; an account circuit's waits `cooldownMs`.
   */
  async openCircuit(
    o: CircuitOpening & { cooldownMs: number; maxCooldownMs: number },
    now = Date.now(),
  ): Promise<{ opens: number; until: number; opened: boolean }> {
    const what = o.kind === 'billing' ? 'billing / spend limit' : 'the API refuses the account';
    const message = `Submissions stopped (${what}: ${o.code}): ${o.reason.replace(/\.$/, '')}. Fix: ${o.fix} Requests stay queued.`;
    const [opens, until, opened] = (await this.call(
      'nsOpenCircuit',
      now,
      o.kind,
      o.code,
      o.reason,
      o.fix,
      o.cooldownMs,
      Math.max(o.cooldownMs, o.maxCooldownMs),
      message,
    )) as [number, string, number];
    return { opens: Number(opens), until: Number(until), opened: opened === 1 };
  }

  /** Closes the circuit and clears its alert; answers whether it was open. */
  async closeCircuit(): Promise<boolean> {
    const [deleted] = (await this.redis
      .multi()
      .del(this.keys.circuit)
      .hdel(this.keys.alerts, 'circuit-open')
      .exec()) as [[Error | null, number]];
    return deleted?.[1] === 1;
  }

  async recordFlush(record: object) {
    await this.redis
      .multi()
      .lpush(this.keys.flushes, JSON.stringify(record))
      .ltrim(this.keys.flushes, 0, 199)
      .exec();
  }

  async flushes(n = 20): Promise<Record<string, unknown>[]> {
    const list = await this.redis.lrange(this.keys.flushes, 0, n - 1);
    return list.map((s) => JSON.parse(s));
  }

  // ---- batcher: create backoff and flush lock ------------------------------------------------

  /** The create backoff every batcher process shares (see backoff.ts). */
  readBackoff(): Promise<BackoffState> {
    return readBackoff(this);
  }

  bumpBackoff(o: Parameters<typeof bumpBackoff>[1]): Promise<BackoffState> {
    return bumpBackoff(this, o);
  }

  clearBackoff(): Promise<void> {
    return clearBackoff(this);
  }

  /** A flush lock with this lease (not taken yet: call `acquire`). */
  flushLock(leaseMs: number, onError: (err: Error) => void): FlushLock {
    return new FlushLock(this, leaseMs, onError);
  }

  // ---- board ---------------------------------------------------------------------------------

  /**
   * The CSRF token every board process of this prefix shares: `candidate` is stored if none is
   * (`SET NX`), and the stored one is returned.
   */
  async boardCsrfToken(candidate: string): Promise<string | null> {
    await this.redis.set(this.keys.boardCsrf, candidate, 'NX');
    return this.redis.get(this.keys.boardCsrf);
  }
}
