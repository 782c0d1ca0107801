import {
  createLogger,
  DEFAULT_PREFIX,
  NightshiftError,
  QUEUES,
  type ResultPayload,
} from '@nightshift/shared';
import { defaultJobOptions, type RedisClient } from '@nightshift/store';
import { type Job, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { checkConnectionChoice, openOwnConnection } from './connection.js';
import type { ResultEvent, ResultWorker, ResultWorkerOptions } from './types.js';

/** The text blocks of a message, joined: what most handlers want. */
function textOf(payload: ResultPayload): string {
  const content = payload.message?.content ?? [];
  return content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

/** A BullMQ worker connection (commands wait out a Redis outage) derived from the caller's client. */
function workerConnection(conn: RedisClient): RedisClient {
  if (conn instanceof Cluster) {
    return conn.duplicate(undefined, {
      redisOptions: { ...conn.options.redisOptions, maxRetriesPerRequest: null },
    });
  }
  return conn.duplicate({ maxRetriesPerRequest: null });
}

/**
 * Starts a consumer of the results Nightshift delivers (batch and real-time alike) to `{results}`.
 * Each result is one job with id `res-<custom_id>`; a handler that throws is retried by BullMQ with
 * backoff (attempts from the results queue's defaults) and the result stays in Redis until handled.
 *
 * @example
 * const results = createResultWorker({ redisUrl, handler: async (r) => saveLabel(r.metadata, r.text) });
 * // on shutdown
 * await results.close();
 */
export function createResultWorker(opts: ResultWorkerOptions): ResultWorker {
  const seeds = checkConnectionChoice('createResultWorker', opts ?? {});
  if (typeof opts.handler !== 'function') {
    throw new NightshiftError('CONFIG', 'createResultWorker: handler must be a function');
  }
  const logger = opts.logger ?? createLogger('result-worker');
  // The worker always owns its connection: BullMQ workers need maxRetriesPerRequest null.
  const connection = opts.connection
    ? workerConnection(opts.connection)
    : openOwnConnection(opts.redisUrl as string, seeds, 'worker');
  const { attempts } = defaultJobOptions('results');
  const worker = new Worker<ResultPayload>(
    QUEUES.results,
    async (job: Job<ResultPayload>) => {
      const event: ResultEvent = { ...job.data, text: textOf(job.data) };
      await opts.handler(event, job);
    },
    { connection, prefix: opts.prefix ?? DEFAULT_PREFIX, concurrency: opts.concurrency ?? 1 },
  );
  // Errors of the worker's own loop (Redis down, …) are reported here, never thrown into the void.
  worker.on('error', (err) => logger.error({ err }, 'result worker error'));
  worker.on('failed', (job, err) => {
    const last = job && job.attemptsMade >= (job.opts.attempts ?? attempts ?? 1);
    logger[last ? 'error' : 'warn'](
      { customId: job?.data?.customId, attempt: job?.attemptsMade, err },
      last
        ? 'result handler failed for the last time; the job stays in failed'
        : 'result handler failed; will retry',
    );
  });
  let closing: Promise<void> | null = null;
  return {
    worker,
    close: () => {
      closing ??= (async () => {
        await worker.close();
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}
