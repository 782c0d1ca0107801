import {
  type DeadLetterPayload,
  jobIds,
  QUEUES,
  type QueueRole,
  type ResultPayload,
} from '@nightshift/shared';
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import type { RedisClient } from './connection.js';

const DAY_S = 86_400;

/** Default job options per queue: what is kept, for how long. */
export function defaultJobOptions(role: QueueRole, retentionDays = 35): JobsOptions {
  switch (role) {
    case 'results':
      // Completed result jobs are kept for the retention period: their ids dedupe redelivery.
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
  return new Queue<T>(QUEUES[role], {
    connection,
    prefix,
    defaultJobOptions: defaultJobOptions(role),
    ...extra,
  });
}

/**
 * Adds result jobs with deterministic ids (`res-<custom_id>`): while a result job is retained, adding
 * it again is a no-op, so a restart that re-applies results never delivers one twice.
 */
export async function deliverResults(queue: Queue, payloads: ResultPayload[]): Promise<void> {
  if (payloads.length === 0) return;
  await queue.addBulk(
    payloads.map((p) => ({ name: p.feature, data: p, opts: { jobId: jobIds.result(p.customId) } })),
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
