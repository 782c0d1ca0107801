import type { AttemptRecord, RequestRecord, ResultJobData, ResultPayload } from '@nightshift/shared';
import type { Queue } from 'bullmq';
import { callChunks } from './call-limits.js';
import { coreOf } from './core.js';
import { jobIdsIn, readJobsWithin } from './jobs-within.js';
import { resultsInJob } from './queues.js';
import { attemptsOf, fromHash, isCompacted } from './record-fields.js';
import { type PromoteResult, parsePromote } from './replies.js';
import type { Store } from './store.js';

/**
 * The store's requests in Bull Board's words: one state per request, counted and paged from the
 * store's counters and indexes (board-counts.lua, board-page.lua), never by walking the requests.
 *
 * | Bull Board | the store |
 * | --- | --- |
 * | waiting | queued, ready now |
 * | delayed | queued, ready time ahead (retry or create backoff) |
 * | active | claimed by an open submission or a batch in flight, or a real-time call |
 * | completed | succeeded (until retention) |
 * | failed | dead-lettered: the waiting jobs of `{dead-letters}` |
 */
export type BoardState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

/** How many requests are in each state. */
export type BoardCounts = Record<BoardState, number>;

/** The most entries of the final index one completed page looks at (a page is 50 jobs at most). */
const COMPLETED_SCAN = 5000;

/**
 * Counts per state. `failed` is the number of dead letters waiting in `{dead-letters}`, the
 * same figure the board's overview shows.
 */
export async function boardCounts(store: Store, deadLetters: Queue, now: number): Promise<BoardCounts> {
  const [[queued, delayed, active, succeeded], failed] = await Promise.all([
    coreOf(store).script('nsBoardCounts', now) as Promise<number[]>,
    deadLetters.getWaitingCount(),
  ]);
  return {
    waiting: Math.max(0, Number(queued) - Number(delayed)),
    delayed: Number(delayed),
    active: Number(active),
    completed: Number(succeeded),
    failed,
  };
}

/** The custom_id a dead-letter job id (`dead-<custom_id>-<n>`) names, or null. */
export const deadLetterCustomId = (jobId: string) => /^dead-(.+)-\d+$/.exec(jobId)?.[1] ?? null;

/** The custom_ids of one page (`start`..`end`, inclusive) of one state. */
export async function boardPage(
  store: Store,
  deadLetters: Queue,
  state: BoardState,
  start: number,
  end: number,
  now: number,
): Promise<string[]> {
  if (end < start) return [];
  if (state === 'failed') {
    const ids = await jobIdsIn(deadLetters, ['wait'], start, end);
    return ids.map(deadLetterCustomId).filter((c): c is string => c !== null);
  }
  return (await coreOf(store).script(
    'nsBoardPage',
    now,
    state,
    start,
    end - start + 1,
    COMPLETED_SCAN,
  )) as string[];
}

/** Makes queued requests in backoff ready now (promote.lua); one result per id. */
export async function promoteRequests(store: Store, cids: string[], now: number): Promise<PromoteResult[]> {
  const out: PromoteResult[] = [];
  for (const [from, to] of callChunks(cids.length, { fixedArgs: 1, perItem: 1, maxItems: 1000 })) {
    const codes = (await coreOf(store).script('nsPromote', now, ...cids.slice(from, to))) as string[];
    for (const raw of codes) out.push(parsePromote(raw));
  }
  return out;
}

/** The custom_ids of the next requests in backoff (for "promote all"), soonest first. */
export async function delayedIds(store: Store, now: number, limit: number): Promise<string[]> {
  return coreOf(store).redis.zrangebyscore(coreOf(store).keys.delayed, `(${now}`, '+inf', 'LIMIT', 0, limit);
}

/** One request as Bull Board shows it: the record, where it is, and what came of it. */
export interface BoardRequest {
  record: Omit<RequestRecord, 'params'>;
  /** The Messages params JSON (absent once succeeded, or when not asked for). */
  params: string | null;
  history: AttemptRecord[];
  /** For a claimed request: its submission and, once created, its batch. */
  submission?: { id: string; state: string; created: number; batchId?: string };
  batch?: { id: string; status: string; submittedAt: number; expiresAt: number };
  /** For a succeeded request: the result its `{results}` job carries (when that job was read). */
  result?: ResultPayload;
  /** The bytes of the `{results}` job's data when it was too large to read for a list. */
  resultOmittedBytes?: number;
}

/**
 * Reads requests for Bull Board: records (params only of requests of at most `paramsUpTo` bytes), the submission and batch
 * of claimed ones, the result of succeeded ones from the `{results}` job their record names (each
 * job read once, and only when its data is at most `resultDataBytes`). Unknown ids are null.
 */
export async function boardRequests(
  store: Store,
  results: Queue,
  cids: string[],
  opts: { paramsUpTo: number; resultDataBytes: number },
): Promise<(BoardRequest | null)[]> {
  const records = await Promise.all(cids.map((cid) => readRecord(store, cid, opts.paramsUpTo)));
  const subIds = [
    ...new Set(records.flatMap((r) => (r?.record.state === 'claimed' ? [r.record.submission] : []))),
  ];
  const subs = new Map(
    await Promise.all(subIds.map(async (id) => [id, await store.submissions.get(id)] as const)),
  );
  const batchIds = [...new Set([...subs.values()].flatMap((s) => (s?.batch ? [s.batch] : [])))];
  const batches = new Map(
    await Promise.all(batchIds.map(async (id) => [id, await store.batches.get(id)] as const)),
  );
  const jobIds = [
    ...new Set(
      records.flatMap((r) =>
        r?.record.state === 'succeeded' && r.record.delivery ? [r.record.delivery] : [],
      ),
    ),
  ];
  const jobs = new Map(
    (await readJobsWithin(results, jobIds, opts.resultDataBytes)).map((j) => [j.job.id!, j] as const),
  );
  return records.map((r) => {
    if (!r) return null;
    const rec = r.record;
    if (rec.state === 'claimed') {
      const sub = subs.get(rec.submission);
      if (sub) {
        r.submission = {
          id: sub.id,
          state: sub.state,
          created: Number(sub.created),
          ...(sub.batch ? { batchId: sub.batch } : {}),
        };
        const b = sub.batch ? batches.get(sub.batch) : null;
        if (b) {
          r.batch = {
            id: b.id,
            status: b.status,
            submittedAt: Number(b.submitted),
            expiresAt: Number(b.expires),
          };
        }
      }
    }
    const job = rec.delivery ? jobs.get(rec.delivery) : undefined;
    if (rec.state === 'succeeded' && job) {
      if (job.omittedDataBytes) r.resultOmittedBytes = job.omittedDataBytes;
      else {
        const found = resultsInJob(job.job.data as ResultJobData | ResultPayload).find(
          (p) => p.customId === rec.customId,
        );
        if (found) r.result = found;
      }
    }
    return r;
  });
}

async function readRecord(store: Store, cid: string, paramsUpTo: number): Promise<BoardRequest | null> {
  const h = await coreOf(store).redis.hgetall(coreOf(store).keys.record(cid));
  if (!h?.state) return null;
  const { params: inHash, ...record } = fromHash(h, cid);
  const small = Number(record.bytes) <= paramsUpTo && record.state !== 'succeeded';
  const params = small
    ? ((await coreOf(store).redis.get(coreOf(store).keys.params(cid))) ?? (inHash || null))
    : null;
  // A compacted record (delivered) shows its success as its one attempt.
  return {
    record,
    params,
    history: attemptsOf({ ...record, params: '' }, isCompacted({ state: h.state, customId: h.cid })),
  };
}
