import {
  type DeadLetterPayload,
  jobIds,
  QUEUES,
  type QueueRole,
  type ResultJobData,
  type ResultPayload,
} from '@nightshift/shared';
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import type { RedisClient } from './connection.js';

const DAY_S = 86_400;

/** Default job options per queue: what is kept, for how long. */
export function defaultJobOptions(role: QueueRole, retentionDays = 35): JobsOptions {
  switch (role) {
    case 'results':
      // Completed result jobs are kept for the retention period: the ops' record of what went out,
      // and their ids dedupe a real-time answer added twice.
      // A consumer that throws is retried with backoff and never loses the result.
      return {
        attempts: 10,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: retentionDays * DAY_S },
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
 */
export async function deliverResults(queue: Queue, jobs: ResultJob[]): Promise<void> {
  const full = jobs.filter((j) => j.results.length > 0);
  if (full.length === 0) return;
  await queue.addBulk(
    full.map((j) => {
      const feature = j.results[0]!.feature;
      const data: ResultJobData = { results: j.results, ...(j.trace ? { trace: j.trace } : {}) };
      return {
        name: j.results.every((r) => r.feature === feature) ? feature : 'mixed',
        data,
        opts: { jobId: j.id },
      };
    }),
  );
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
