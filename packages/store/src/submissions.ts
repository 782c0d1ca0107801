import type { FlushReason } from '@nightshift/shared';
import type { StoreCore } from './core.js';
import { rejectedSubmissionId } from './keys.js';
import { utcDay } from './ledger.js';

const CHUNK = 1000;

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

/**
 * What commit.lua answers: the submission's state before the batch was recorded ('' when there was
 * no such submission, e.g. an adopted orphan), or `known` when the batch was recorded already.
 */
export type CommitCode = SubmissionFields['state'] | '' | 'known';

const COMMIT_CODES: ReadonlySet<string> = new Set<CommitCode>([
  'claiming',
  'creating',
  'submitted',
  'released',
  '',
  'known',
]);

/** Submissions: claimed requests on their way into one batch (claim.lua, release.lua, commit.lua, held.lua). */
export class Submissions {
  constructor(private readonly core: StoreCore) {}

  /** Opens a submission before anything is claimed into it. */
  async open(s: {
    id: string;
    partition: string;
    reason: FlushReason;
    owner: string;
    leaseMs: number;
    now?: number;
  }) {
    const now = s.now ?? Date.now();
    await this.core.redis
      .multi()
      .hset(this.core.keys.submission(s.id), {
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
      .sadd(this.core.keys.openSubmissions, s.id)
      .exec();
  }

  async update(id: string, fields: Partial<Record<keyof SubmissionFields, string | number>>) {
    await this.core.redis.hset(this.core.keys.submission(id), fields as Record<string, string | number>);
  }

  async get(id: string): Promise<SubmissionFields | null> {
    if (!id) return null;
    const h = await this.core.redis.hgetall(this.core.keys.submission(id));
    return h?.id ? (h as unknown as SubmissionFields) : null;
  }

  async openIds(): Promise<string[]> {
    return this.core.redis.smembers(this.core.keys.openSubmissions);
  }

  /** Drops an id from the open submissions (its hash is gone, or it is resolved already). */
  async forgetOpen(id: string): Promise<void> {
    await this.core.redis.srem(this.core.keys.openSubmissions, id);
  }

  async members(id: string, start = 0, stop = -1): Promise<string[]> {
    return this.core.redis.lrange(this.core.keys.submissionMembers(id), start, stop);
  }

  /** The members in one range of a submission's list that it still holds (see held.lua). */
  async held(id: string, start: number, stop: number): Promise<{ read: number; held: string[] }> {
    const [read, ...held] = (await this.core.script('nsHeld', id, start, stop)) as [number, ...string[]];
    return { read: Number(read), held };
  }

  /** {@link claimRaw} with the custom_ids and params decoded as UTF-8 strings. */
  async claim(...args: Parameters<Submissions['claimRaw']>) {
    const raw = await this.claimRaw(...args);
    const items = raw.items.map(([cid, params]): [cid: string, params: string] => [
      String(cid),
      String(params),
    ]);
    return { bytes: raw.bytes, items, ...(raw.held ? { held: raw.held } : {}) };
  }

  /**
   * Claims ready requests of one group into a submission (see claim.lua). `perItemOverhead` bytes
   * are counted against `maxBytes` for each request taken (the batcher passes 1 for the joining ',').
   * The custom_ids and params come back as raw bytes (no UTF-8 decoding): the batcher only copies
   * them into a request body. Each request taken reserves its estimate in the budgets covering it;
   * `held` (present when not 0) counts the ready requests a budget had no room for, left queued.
   */
  async claimRaw(
    group: string,
    subId: string,
    maxCount: number,
    maxBytes: number,
    now = Date.now(),
    perItemOverhead = 0,
  ) {
    const run = (
      this.core.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>
    ).nsClaimBuffer!;
    const reply = (await run.call(
      this.core.redis,
      this.core.keys.stats,
      this.core.keys.base,
      group,
      now,
      maxCount,
      maxBytes,
      subId,
      perItemOverhead,
      utcDay(now),
    )) as (Buffer | number)[];
    const items: [cid: Buffer, params: Buffer][] = [];
    for (let i = 2; i < reply.length; i += 2) items.push([reply[i] as Buffer, reply[i + 1] as Buffer]);
    const held = Number(reply[1]);
    return { bytes: Number(reply[0]), items, ...(held ? { held } : {}) };
  }

  /** Puts every member still claimed by the submission back in the queue; marks it released. */
  async release(subId: string, opts: { readyAt?: number; now?: number } = {}): Promise<number> {
    const now = opts.now ?? Date.now();
    const total = await this.core.redis.llen(this.core.keys.submissionMembers(subId));
    let released = 0;
    for (let start = 0; start < total || start === 0; start += CHUNK) {
      const last = start + CHUNK >= total ? '1' : '0';
      released += Number(
        await this.core.script(
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
  ): Promise<CommitCode> {
    const code = (await this.core.script(
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
    if (!COMMIT_CODES.has(code)) throw new Error(`commit.lua: unexpected reply ${JSON.stringify(code)}`);
    return code as CommitCode;
  }

  /**
   * Moves the given members of one submission into another (both stay claimed). Used to split a
   * submission the API refused as too large, or to set aside requests it rejected.
   */
  async moveMembers(fromSub: string, toSub: string, cids: string[]) {
    const multi = this.core.redis.multi();
    for (const cid of cids) {
      multi.lrem(this.core.keys.submissionMembers(fromSub), 1, cid);
      multi.rpush(this.core.keys.submissionMembers(toSub), cid);
      multi.hset(this.core.keys.record(cid), 'sub', toSub);
    }
    await multi.exec();
  }

  /** Sets aside requests the API refused at create time (see keys.ts `rejectedMembers`). */
  setAsideRejected(subId: string, cids: string[]) {
    return this.moveMembers(subId, rejectedSubmissionId(subId), cids);
  }
}
