import type { DeliveryJobData } from '@nightshift/shared';
import type { Job, Queue } from 'bullmq';
import { jobIdsIn, readJobsWithin } from './jobs-within.js';

/** A failed delivery as the board and the CLI list it. */
export interface FailedDelivery {
  jobId: string;
  endpoint: string;
  eventId: string;
  type: string;
  attempts: number;
  reason: string;
  failedAt: number;
}

const PAGE = 500;
/**
 * The most bytes of a delivery's data a listing reads: a body with a long result text stays in
 * Redis (the board lists failed deliveries at every refresh), and its endpoint and event id are
 * read from the job id, its type from the job name.
 */
const LIST_DATA_BYTES = 16 * 1024;

/**
 * Endpoint and event id from a delivery's job id `whd-<endpoint>-<event id>`; an event id is
 * `ev-<enqueued ms>-…`, `ev-batch-…` or `ev-drain-…`, which tells where an endpoint name that
 * holds `-ev-` ends.
 */
function ofJobId(id: string): { endpoint: string; eventId: string } | null {
  const m = /^whd-(.+?)-(ev-(?:\d+|batch|drain)-.+)$/.exec(id);
  return m ? { endpoint: m[1]!, eventId: m[2]! } : null;
}

function view(j: Job, omitted: boolean): FailedDelivery {
  const id = j.id ?? '';
  const data = j.data as Partial<DeliveryJobData>;
  const fromId = omitted ? ofJobId(id) : null;
  return {
    jobId: id,
    endpoint: fromId?.endpoint ?? data.endpoint ?? '',
    eventId: fromId?.eventId ?? data.eventId ?? '',
    type: omitted ? j.name : (data.type ?? j.name),
    attempts: j.attemptsMade,
    reason: j.failedReason ?? '',
    failedAt: j.finishedOn ?? 0,
  };
}

/**
 * Failed deliveries per endpoint among the newest `scan` failed jobs, from their ids alone
 * (`whd-<endpoint>-ev-…`): no job body is read, so a board can call it every few seconds.
 */
export async function failedPerEndpoint(
  queue: Queue<DeliveryJobData>,
  scan = 1000,
): Promise<Map<string, number>> {
  const ids = await queue.getRanges(['failed'], 0, scan - 1);
  const out = new Map<string, number>();
  for (const id of ids) {
    const endpoint = ofJobId(id)?.endpoint;
    if (endpoint) out.set(endpoint, (out.get(endpoint) ?? 0) + 1);
  }
  return out;
}

/** Failed deliveries of the `{webhooks}` queue, newest first, optionally of one endpoint. */
export async function failedDeliveries(
  queue: Queue<DeliveryJobData>,
  opts: { endpoint?: string; limit?: number } = {},
): Promise<FailedDelivery[]> {
  const limit = opts.limit ?? 100;
  const out: FailedDelivery[] = [];
  for (let start = 0; out.length < limit; start += PAGE) {
    const ids = await jobIdsIn(queue, ['failed'], start, start + PAGE - 1);
    if (ids.length === 0) break;
    for (const { job, omittedDataBytes } of await readJobsWithin(queue, ids, LIST_DATA_BYTES)) {
      const v = view(job, omittedDataBytes > 0);
      if (!opts.endpoint || v.endpoint === opts.endpoint) out.push(v);
    }
  }
  return out.slice(0, limit);
}

/**
 * Replays failed deliveries: each goes back to the queue with its whole attempt budget, and sends
 * the very body it failed with (same `webhook-id`, a new timestamp and signature). All failed
 * deliveries, those of one endpoint, or the given job ids. Returns how many were replayed.
 */
export async function replayDeliveries(
  queue: Queue<DeliveryJobData>,
  opts: { endpoint?: string; jobIds?: string[] } = {},
): Promise<number> {
  let replayed = 0;
  const retry = async (j: Job<DeliveryJobData>) => {
    await j.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    replayed++;
  };
  if (opts.jobIds) {
    for (const id of opts.jobIds) {
      const j = await queue.getJob(id);
      if (j && (await j.isFailed())) await retry(j);
    }
    return replayed;
  }
  // Replayed jobs leave the failed list: page from the start until a page has nothing to replay.
  for (let skip = 0; ; ) {
    const jobs = (await queue.getFailed(skip, skip + PAGE - 1)).filter((j): j is Job<DeliveryJobData> => !!j);
    if (jobs.length === 0) break;
    const mine = jobs.filter((j) => !opts.endpoint || j.data.endpoint === opts.endpoint);
    for (const j of mine) await retry(j);
    skip += jobs.length - mine.length;
  }
  return replayed;
}
