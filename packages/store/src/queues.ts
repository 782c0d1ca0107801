import {
  type AttemptRecord,
  type BatchFields,
  type BatchJobData,
  type DeadLetterPayload,
  jobIds,
  type Logger,
  type MessageParams,
  parseJson,
  QUEUES,
  type QueueRole,
  type ResultJobData,
  type ResultPayload,
} from '@nightshift/shared';
import { type JobState, type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import type { RedisClient } from './connection.js';

const DAY_S = 86_400;
/** Entries of the `{results}` queue's event stream BullMQ keeps (its default: 10,000). */
const RESULTS_EVENTS_KEPT = 1_000;

/** Default job options per queue: what is kept, for how long. */
export function defaultJobOptions(role: QueueRole, retentionDays = 35): JobsOptions {
  switch (role) {
    case 'results':
      // A completed result job is removed at once: the message text leaves Redis once handed over,
      // and the request's compacted record (delivered.lua) is what stays, shown on the board and
      // deduping a real-time answer added twice. (Kept a day when webhooks want the text:
      // deliverResults' keepCompleted.) A consumer that throws is retried with backoff and never
      // loses the result.
      return {
        attempts: 10,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: true,
        removeOnFail: false,
      };
    case 'batches':
      return { removeOnComplete: { age: retentionDays * DAY_S }, removeOnFail: false };
    case 'deadLetters':
      return { removeOnComplete: { age: retentionDays * DAY_S }, removeOnFail: false };
    default:
      return { removeOnComplete: 100, removeOnFail: 500 };
  }
}

/** Opens one Nightshift queue with its defaults. */
export function openQueue<T = unknown>(
  role: QueueRole,
  connection: RedisClient,
  prefix: string,
  extra: Partial<QueueOptions> = {},
): Queue<T> {
  const queue = new Queue<T>(QUEUES[role], {
    connection,
    prefix,
    defaultJobOptions: defaultJobOptions(role),
    // BullMQ keeps ~10,000 events per queue; {results}' progress events carry each job's handled
    // custom_ids (~10 MB), and nobody reads them (no QueueEvents): 1,000 are kept.
    ...(role === 'results' ? { streams: { events: { maxLen: RESULTS_EVENTS_KEPT } } } : {}),
    ...extra,
  });
  // The queue re-emits the errors of the connection it shares, whose owner logs them
  // (`logRedisErrors`). Without a listener BullMQ would `console.error` the raw error, and an
  // ioredis error's `command.args` holds the AUTH password.
  queue.on('error', () => undefined);
  return queue;
}

/** One `{results}` job: its id and the results it carries. */
export interface ResultJob {
  id: string;
  results: ResultPayload[];
  /** W3C traceparent of the span that applied the results (see ResultJobData.trace). */
  trace?: string;
}

/**
 * Adds `{results}` jobs (empty ones are skipped). A job is named after its results' feature (or
 * 'mixed'); an id that exists already leaves that job as it is (BullMQ), so adding again is harmless.
 * `keepCompleted` (an endpoint subscribes to `request.succeeded`: `resultsWantedByWebhooks`) keeps
 * each job a day after it completed, for the webhook dispatcher to read its results' text.
 */
export async function deliverResults(
  queue: Queue,
  jobs: ResultJob[],
  opts: { keepCompleted?: boolean } = {},
): Promise<void> {
  const full = jobs.filter((j) => j.results.length > 0);
  if (full.length === 0) return;
  await queue.addBulk(
    full.map((j) => {
      const feature = j.results[0]!.feature;
      const data: ResultJobData = { results: j.results, ...(j.trace ? { trace: j.trace } : {}) };
      return {
        name: j.results.every((r) => r.feature === feature) ? feature : 'mixed',
        data,
        opts: { jobId: j.id, ...(opts.keepCompleted ? { removeOnComplete: { age: DAY_S } } : {}) },
      };
    }),
  );
}

/**
 * The results a `{results}` job carries: `results` of its data, or the data itself for a job of
 * the earlier one-result format.
 */
export function resultsInJob(data: ResultJobData | ResultPayload): ResultPayload[] {
  return 'results' in data && Array.isArray(data.results) ? data.results : [data as ResultPayload];
}

/**
 * Whether a consumer of `{results}` job `jobId` should wait for the request `cid`'s apply: a
 * real-time answer's job (`res-<custom_id>`) is added just before it is applied, so while the
 * request is not final the apply (or a batch, when the call's process died) is still to decide.
 */
export function awaitsRealtimeApply(jobId: string, cid: string, state: string): boolean {
  return jobId === jobIds.result(cid) && state !== 'succeeded' && state !== 'dead' && state !== 'canceled';
}

/** Adds dead-letter jobs; `deaths` is the record's dead-letter count after this death. */
export async function addDeadLetters(queue: Queue, items: { payload: DeadLetterPayload; deaths: number }[]) {
  if (items.length === 0) return;
  await queue.addBulk(
    items.map(({ payload, deaths }) => ({
      name: payload.feature,
      data: payload,
      opts: { jobId: jobIds.deadLetter(payload.customId, deaths) },
    })),
  );
}

/** The stored strings of a request a dead letter is built from (its record's fields). */
export interface DeadLetterSource {
  customId: string;
  feature: string;
  model: string;
  /** The record's `params` (JSON): the payload has null when it is missing or not JSON. */
  params: string | undefined | null;
  /** The record's `metadata` (JSON): null when missing. */
  metadata: string | undefined | null;
  /** The record's `history` (JSON attempts): [] when missing. */
  history: string | undefined | null;
}

/** How a request died. */
export interface Death {
  reason: string;
  lastError: DeadLetterPayload['lastError'];
  /** The attempt that died, appended to the history (omit when `history` already ends with it). */
  entry?: AttemptRecord;
  batchId: string | null;
  deadAt: number;
}

/**
 * The one builder of a `{dead-letters}` job's payload (batcher, collector, producer and repair all
 * dead-letter): stored JSON parsed with one set of fallbacks.
 */
export function deadLetterPayload(source: DeadLetterSource, death: Death): DeadLetterPayload {
  const history = parseJson<AttemptRecord[]>(source.history, []);
  return {
    customId: source.customId,
    feature: source.feature,
    model: source.model,
    reason: death.reason,
    lastError: death.lastError,
    attempts: death.entry ? [...history, death.entry] : history,
    batchId: death.batchId,
    params: parseJson<MessageParams>(source.params, null as unknown as MessageParams),
    metadata: parseJson<unknown>(source.metadata, null),
    deadAt: death.deadAt,
  };
}

/** What a tracking job is built from: the batch record's fields (numbers as stored or as numbers). */
export type TrackedBatch = Pick<BatchFields, 'id' | 'sub' | 'partition' | 'reason'> &
  Record<'count' | 'bytes' | 'submitted', string | number>;

/**
 * The one builder of a `{batches}` tracking job's data (the batcher adds it at commit and at
 * start-up, the collector when a job is missing or an orphan is adopted). `trace` is the W3C
 * traceparent of the create span, when traced: the collector's polls link to it.
 */
export function trackingJobData(b: TrackedBatch, trace?: string): BatchJobData {
  return {
    batchId: b.id,
    submissionId: b.sub,
    requestCount: Number(b.count) || 0,
    bytes: Number(b.bytes) || 0,
    partition: b.partition ?? '',
    reason: b.reason,
    submittedAt: Number(b.submitted) || 0,
    ...(trace ? { trace } : {}),
  };
}

/** Adds a batch's tracking job (deterministic id: adding it twice is a no-op). */
export async function addTrackingJob(queue: Queue, data: BatchJobData): Promise<void> {
  await queue.add('batch', data, { jobId: jobIds.batch(data.batchId) });
}

/**
 * Every batch in flight must have a live tracking job. A crash between the batcher's commit and its
 * job add leaves none; a job that finished (or failed) while its batch is still in flight is
 * replaced. `inFlight` is asked after the job's state was read: a job completes only after its batch
 * left flight, so a finished job of a batch still in flight is one to replace. Returns the batch ids
 * whose job was added.
 */
export async function ensureTrackingJobs(
  queue: Queue,
  batches: BatchFields[],
  inFlight: (batchId: string) => Promise<boolean>,
  log: Logger,
): Promise<string[]> {
  const added: string[] = [];
  for (const b of batches) {
    const jobId = jobIds.batch(b.id);
    const state: JobState | 'unknown' = await queue.getJobState(jobId);
    if (state !== 'unknown' && state !== 'completed' && state !== 'failed') continue;
    if (state !== 'unknown') {
      if (!(await inFlight(b.id))) continue;
      const old = await queue.getJob(jobId);
      log.warn(
        { batchId: b.id, state, failedReason: old?.failedReason },
        'tracking job finished while its batch is in flight; replacing it',
      );
      await queue.remove(jobId);
    }
    await addTrackingJob(queue, trackingJobData(b));
    added.push(b.id);
  }
  return added;
}
