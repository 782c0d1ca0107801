import type { AttemptRecord } from '@nightshift/shared';
import { callChunks } from './call-limits.js';
import type { StoreCore } from './core.js';
import { utcDay } from './ledger.js';
import { type ApplyResult, parseApply, parseRetryDead, type RetryDeadResult } from './replies.js';

const CHUNK = 1000;
/** Arguments apply.lua takes per item (see its header). */
const APPLY_ARGS_PER_ITEM = 7;

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

/**
 * Outcomes applied to requests, each exactly once, and their delivery (apply.lua, redeliver.lua,
 * delivered.lua, retry-dead.lua).
 */
export class Outcomes {
  constructor(private readonly core: StoreCore) {}

  /**
   * Applies decided outcomes (see apply.lua); one result per item. Chunked within the managed
   * services' command limits (call-limits.ts); each chunk atomic.
   */
  async apply(items: ApplyItem[], now = Date.now()): Promise<ApplyResult[]> {
    const codes: ApplyResult[] = [];
    const runs = callChunks(items.length, { fixedArgs: 3, perItem: APPLY_ARGS_PER_ITEM, maxItems: CHUNK });
    for (const [from, to] of runs) {
      const chunk = items.slice(from, to);
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
      const joined = (await this.core.script('nsApply', ...args)) as string;
      for (const raw of joined.split(',')) codes.push(parseApply(raw));
    }
    return codes;
  }

  /**
   * Moves the delivery of succeeded records to `jobId` where each still names `from[i]` (see
   * redeliver.lua); true per record moved. The caller adds the job with exactly those results.
   */
  async redeliver(jobId: string, items: { cid: string; from: string }[]): Promise<boolean[]> {
    const moved: boolean[] = [];
    for (const [from, to] of callChunks(items.length, { fixedArgs: 1, perItem: 2 })) {
      const args = items.slice(from, to).flatMap((it) => [it.cid, it.from]);
      const joined = (await this.core.script('nsRedeliver', jobId, ...args)) as string;
      for (const x of joined.split(',')) moved.push(x === '1');
    }
    return moved;
  }

  /**
   * Compacts the records of results `jobId` handed to the service (see delivered.lua): each record
   * still succeeded and naming that job keeps only its state, params hash, attempts, batch, final
   * time and cost. True per record compacted now; calling again changes nothing.
   */
  async delivered(jobId: string, cids: string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const [from, to] of callChunks(cids.length, { fixedArgs: 1, perItem: 1, maxItems: CHUNK })) {
      const joined = (await this.core.script('nsDelivered', jobId, ...cids.slice(from, to))) as string;
      for (const x of joined.split(',')) out.push(x === '1');
    }
    return out;
  }

  /** Dead-lettered requests back to the queue with a fresh attempt budget; one result per id. */
  async retryDead(cids: string[], now = Date.now()): Promise<RetryDeadResult[]> {
    const out: RetryDeadResult[] = [];
    for (const [from, to] of callChunks(cids.length, { fixedArgs: 1, perItem: 1, maxItems: CHUNK })) {
      const codes = (await this.core.script('nsRetryDead', now, ...cids.slice(from, to))) as string[];
      for (const raw of codes) out.push(parseRetryDead(raw));
    }
    return out;
  }
}
