import { Job, type JobType, optsDecodeMap, type Queue } from 'bullmq';
import type { RedisClient } from './connection.js';
import { scripts } from './scripts.js';

/** A job read by {@link readJobsWithin}. */
export interface JobWithin {
  job: Job;
  /** Bytes of the job's `data` when it was left out (then `job.data` is `{}`), else 0. */
  omittedDataBytes: number;
}

/**
 * Reads jobs of `queue` by id, each in full unless its `data` is over `maxDataBytes`: that data is
 * not read at all (see jobs-within.lua), and the job comes back with `data` `{}` and the size it
 * has. Jobs that are gone are left out. One script call, read-only.
 */
export async function readJobsWithin(
  queue: Queue,
  ids: string[],
  maxDataBytes: number,
): Promise<JobWithin[]> {
  if (ids.length === 0) return [];
  // The connection the queue was opened on (ours: openQueue passes an ioredis client).
  const client = (await queue.backend.client) as unknown as RedisClient;
  const rows = (await scripts(client).nsJobsWithin(
    queue.toKey('meta'),
    queue.qualifiedName,
    maxDataBytes,
    ...ids,
  )) as string[][];
  const out: JobWithin[] = [];
  rows.forEach((flat, i) => {
    if (!flat.length) return;
    const raw: Record<string, string> = {};
    for (let f = 0; f < flat.length; f += 2) raw[flat[f]!] = flat[f + 1]!;
    const omittedDataBytes = Number(raw.__dataBytes ?? 0);
    delete raw.__dataBytes;
    out.push({ job: Job.fromJSON(queue, decodeJobHash(raw, ids[i]!) as never, ids[i]), omittedDataBytes });
  });
  return out;
}

/** The ids of a queue's jobs in some states (as `queue.getJobs` pages them), without reading the jobs. */
export function jobIdsIn(queue: Queue, states: JobType[], start: number, end: number, asc = false) {
  return queue.getRanges(states, start, end, asc);
}

/**
 * A job hash as Redis holds it (short field names, numbers as strings, options encoded) turned into
 * the JSON `Job.fromJSON` takes, as BullMQ's own `getJob` does: without it a job read here has no
 * attempts made, no finish time and its options as a string.
 */
function decodeJobHash(raw: Record<string, string>, id: string) {
  const opts = Object.entries(JSON.parse(raw.opts || '{}') as Record<string, unknown>).map(([k, v]) => [
    (optsDecodeMap as Record<string, string>)[k] ?? k,
    v,
  ]);
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    ...raw,
    id: raw.id ?? id,
    opts: Object.fromEntries(opts),
    progress: JSON.parse(raw.progress || '0'),
    delay: Number(raw.delay ?? 0),
    priority: Number(raw.priority ?? 0),
    timestamp: Number(raw.timestamp ?? 0),
    attemptsStarted: Number(raw.ats ?? 0),
    attemptsMade: Number(raw.attemptsMade ?? raw.atm ?? 0),
    stalledCounter: Number(raw.stc ?? 0),
    finishedOn: num(raw.finishedOn),
    processedOn: num(raw.processedOn),
    repeatJobKey: raw.rjk,
    deduplicationId: raw.deid,
    deferredFailure: raw.defa,
    parent: raw.parent ? JSON.parse(raw.parent) : undefined,
    processedBy: raw.pb,
  };
}

/** For each job id: true when `queue` has no such job (one pipeline of EXISTS on the job hashes). */
export async function missingJobIds(queue: Queue, ids: string[]): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const pipe = ((await queue.backend.client) as unknown as RedisClient).pipeline();
  for (const id of ids) pipe.exists(queue.toKey(id));
  const replies = (await pipe.exec()) ?? [];
  return replies.map(([err, n]) => {
    if (err) throw err;
    return Number(n) === 0;
  });
}
