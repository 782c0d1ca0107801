import type { RequestRecord, RequestStatus } from '@nightshift/shared';
import { argBytes, callChunks } from './call-limits.js';
import { cancelRequests } from './cancel.js';
import type { StoreCore } from './core.js';
import { attemptsOf, fromHash, hashFieldsOf, isCompacted } from './record-fields.js';
import { type CancelResult, type EnqueueResult, parseEnqueue } from './replies.js';
import type { Store } from './store.js';

const CHUNK = 1000;
/** Arguments enqueue.lua takes per item (see its header). */
const ENQUEUE_ARGS_PER_ITEM = 14;
/** Separates the values of one record in a peek reply (see peek.lua). */
const PEEK_SEP = '\x1f';

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
  /** The most it can cost at batch price, nano-dollars (`estimateCost`): what a budget reserves. @defaultValue 0 */
  est?: number;
}

/** Request records: written by enqueue, read by everyone (see enqueue.lua, peek.lua, cancel.lua). */
export class Records {
  constructor(
    private readonly core: StoreCore,
    private readonly store: Store,
  ) {}

  /**
   * Inserts records idempotently; one result per item (see enqueue.lua). Chunked within the
   * managed services' command limits (call-limits.ts: ≤ 3,999 arguments, ≤ 8 MB); each chunk atomic.
   */
  async enqueue(
    items: EnqueueItem[],
    opts: { replace?: boolean; now?: number } = {},
  ): Promise<EnqueueResult[]> {
    const now = opts.now ?? Date.now();
    const codes: EnqueueResult[] = [];
    const runs = callChunks(items.length, {
      fixedArgs: 3,
      perItem: ENQUEUE_ARGS_PER_ITEM,
      maxItems: CHUNK,
      bytesOf: (i) => argBytes(items[i]!.params, items[i]!.meta),
    });
    for (const [from, to] of runs) {
      const chunk = items.slice(from, to);
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
        args.push(it.group, it.bytes, it.realtimeAllowed ? '1' : '', it.state, it.notify ?? '', it.est ?? 0);
      }
      for (const raw of (await this.core.script('nsEnqueue', ...args)) as string[])
        codes.push(parseEnqueue(raw));
    }
    return codes;
  }

  /** Reads some fields of many records (pipelined); null for unknown ids. */
  async peek<F extends keyof RequestRecord>(
    cids: string[],
    fields: F[],
  ): Promise<(Pick<RequestRecord, F> | null)[]> {
    if (cids.length === 0) return [];
    const paramsAt = fields.indexOf('params' as F);
    const hashFields = hashFieldsOf(fields);
    const pipe = this.core.redis.pipeline();
    for (const cid of cids) {
      pipe.hmget(this.core.keys.record(cid), ...hashFields);
      if (paramsAt >= 0) pipe.get(this.core.keys.params(cid));
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
      return rec as Pick<RequestRecord, F>;
    });
  }

  /**
   * How many of the given custom_ids have a record: one EXISTS per 1,000 ids (all keys share the
   * `{req}` slot). Read-only; lets a bulk pre-check skip `peek` for slices that are all new.
   */
  async count(cids: string[]): Promise<number> {
    const counts = await Promise.all(
      Array.from({ length: Math.ceil(cids.length / CHUNK) }, (_, i) =>
        this.core.redis.exists(
          ...cids.slice(i * CHUNK, (i + 1) * CHUNK).map((c) => this.core.keys.record(c)),
        ),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Same answer as `peek`, read by one script call per 1,000 ids (see peek.lua): far less client
   * work per record than a pipeline of HMGETs, for hot paths that read thousands of records.
   */
  async peekMany<F extends keyof RequestRecord>(
    cids: string[],
    fields: F[],
  ): Promise<(Pick<RequestRecord, F> | null)[]> {
    const out: (Pick<RequestRecord, F> | null)[] = [];
    for (let i = 0; i < cids.length; i += CHUNK) {
      const chunk = cids.slice(i, i + CHUNK);
      const hashFields = hashFieldsOf(fields);
      const rows = (await this.core.script('nsPeek', fields.length, ...hashFields, ...chunk)) as (
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
        out.push(rec as Pick<RequestRecord, F>);
      }
    }
    return out;
  }

  async get(cid: string): Promise<RequestRecord | null> {
    return (await this.read(cid))?.rec ?? null;
  }

  /** The record and whether it is compacted (see delivered.lua). */
  private async read(cid: string): Promise<{ rec: RequestRecord; compacted: boolean } | null> {
    const [h, params] = await Promise.all([
      this.core.redis.hgetall(this.core.keys.record(cid)),
      this.core.redis.get(this.core.keys.params(cid)),
    ]);
    if (!h?.state) return null;
    return {
      rec: { ...fromHash(h, cid), params: params ?? h.params ?? '' },
      compacted: isCompacted({ state: h.state, customId: h.cid }),
    };
  }

  /**
   * Where a request is, in the words of `getStatus`. A compacted record (succeeded and delivered)
   * answers what it keeps: feature and model '', enqueuedAt 0, the success as its only attempt.
   */
  async status(cid: string): Promise<RequestStatus> {
    const found = await this.read(cid);
    if (!found) return { customId: cid, state: 'unknown' };
    const { rec, compacted } = found;
    const history = attemptsOf(rec, compacted);
    const attempt = Number(rec.attempt);
    const base = {
      customId: cid,
      feature: rec.feature,
      model: rec.model,
      attempt,
      enqueuedAt: Number(rec.enqueuedAt),
      history,
      ...(rec.deadline ? { deadline: Number(rec.deadline) } : {}),
    };
    const lastError = rec.lastError ? (JSON.parse(rec.lastError) as { type: string; message: string }) : null;
    switch (rec.state) {
      case 'queued':
        return attempt > 1
          ? { ...base, state: 'retrying', readyAt: Number(rec.readyAt), lastError }
          : { ...base, state: 'queued' };
      case 'claimed': {
        const sub = await this.store.submissions.get(rec.submission);
        if (sub?.state === 'submitted' && sub.batch) {
          const batch = await this.store.batches.get(sub.batch);
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
          completedAt: Number(rec.completedAt),
          ...(rec.batchId ? { batchId: rec.batchId } : {}),
          ...(rec.costNano ? { costUsd: Number(rec.costNano) / 1e9 } : {}),
          ...(compacted ? { compacted: true as const } : {}),
        };
      case 'dead':
        return {
          ...base,
          state: 'dead',
          reason: (rec as unknown as { reason?: string }).reason ?? '',
          lastError,
          completedAt: Number(rec.completedAt),
        };
      case 'canceled':
        return { ...base, state: 'canceled', completedAt: Number(rec.completedAt) };
    }
  }

  /**
   * Cancels requests that are still only queued (see cancel.lua): each becomes final, state
   * `canceled`. One result per id: `ok`, `canceled` (already), `not-queued` (with the state) or
   * `unknown`.
   */
  cancel(cids: string[], now = Date.now()): Promise<CancelResult[]> {
    return cancelRequests(this.store, cids, now);
  }
}
