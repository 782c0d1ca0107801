import {
  createLogger,
  DEFAULT_PREFIX,
  jobIds,
  NightshiftError,
  QUEUES,
  type RecordFields,
  type ResultJobData,
  type ResultPayload,
} from '@nightshift/shared';
import { defaultJobOptions, type RedisClient, Store } from '@nightshift/store';
import { DelayedError, type Job, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { checkConnectionChoice, openOwnConnection } from './connection.js';
import { Limiter } from './limiter.js';
import type { ResultWorker, ResultWorkerOptions } from './types.js';

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

/** What a job does with one of its results. */
type Fate = 'deliver' | 'skip' | 'wait';

/**
 * A job hands the service a result only while the request's record names that job as its delivery
 * (`dlv`, written by the apply script that made the request succeed). So a result two jobs carry (a
 * re-stream after a crash, a duplicate batch, a real-time answer that raced a batch) reaches the
 * service once, and a job whose results were never applied (Redis lost the apply) delivers nothing.
 */
function fateOf(jobId: string, cid: string, rec: Pick<RecordFields, 'state' | 'dlv'> | null): Fate {
  // No record (gone after the retention period): nothing to check against, the job is all we have.
  if (!rec) return 'deliver';
  if (rec.dlv === jobId) return 'deliver';
  const single = jobId === jobIds.result(cid);
  // Succeeded before deliveries were named: its job is its `res-<custom_id>`.
  if (single && !rec.dlv && rec.state === 'succeeded') return 'deliver';
  // A real-time answer is added just before it is applied: wait for the apply (or for a batch to
  // decide, when the call's process died and the request went another way).
  if (single && rec.state !== 'succeeded' && rec.state !== 'dead' && rec.state !== 'canceled') return 'wait';
  return 'skip';
}

/** Handled results between two records of a job's progress. */
const PROGRESS_EVERY = 10;

/** What a job remembers between its attempts (kept as its BullMQ progress). */
interface Progress {
  /** custom_ids handled or skipped: a retry does not call the handler for them again. */
  handled: string[];
  /** Times the job waited for real-time answers to be applied. */
  waits: number;
}

function progressOf(job: Job): Progress {
  const p = job.progress as Partial<Progress> | number | undefined;
  if (p && typeof p === 'object' && Array.isArray(p.handled)) {
    return { handled: p.handled, waits: Number(p.waits) || 0 };
  }
  return { handled: [], waits: 0 };
}

/** The results of a job; a job of an earlier version carried one result as its whole data. */
function resultsOf(data: ResultJobData | ResultPayload): ResultPayload[] {
  return 'results' in data && Array.isArray(data.results) ? data.results : [data as ResultPayload];
}

/**
 * Starts a consumer of the results Nightshift delivers (batch and real-time alike) to `{results}`.
 * A job carries one or more results; the handler is called once per result, at most `concurrency`
 * at once. A handler that throws makes BullMQ retry the job with backoff (attempts from the
 * results queue's defaults); the retry skips the results already handled, and the result stays in
 * Redis until handled.
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
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const concurrency = opts.concurrency ?? 1;
  // The worker always owns its connection: BullMQ workers need maxRetriesPerRequest null.
  const connection = opts.connection
    ? workerConnection(opts.connection)
    : openOwnConnection(opts.redisUrl as string, seeds, 'worker');
  const store = new Store(connection, prefix);
  const handlers = new Limiter(concurrency);
  const { attempts } = defaultJobOptions('results');

  const processJob = async (job: Job<ResultJobData>, token?: string) => {
    const progress = progressOf(job);
    const done = new Set(progress.handled);
    const todo = resultsOf(job.data).filter((r) => !done.has(r.customId));
    const recs = await store.peekMany(
      todo.map((r) => r.customId),
      ['state', 'dlv'],
    );
    const waiting: string[] = [];
    const failures: unknown[] = [];
    // Every PROGRESS_EVERY handled results the job records them, so a worker that dies mid-job
    // hands out again at most that many (plus those in progress), not the whole job.
    let unrecorded = 0;
    let recording: Promise<void> = Promise.resolve();
    const record = () => {
      const handled = [...done];
      recording = recording
        .then(() => job.updateProgress({ handled, waits: progress.waits } satisfies Progress))
        .catch((err: unknown) => logger.warn({ err, job: job.id }, 'could not record handled results'));
    };
    await Promise.all(
      todo.map(async (result, i) => {
        const fate = fateOf(job.id ?? '', result.customId, recs[i] ?? null);
        if (fate === 'wait') return void waiting.push(result.customId);
        if (fate === 'skip') {
          logger.debug(
            { customId: result.customId, job: job.id },
            'result delivered by another job: skipped',
          );
          return void done.add(result.customId);
        }
        try {
          await handlers.run(async () => opts.handler({ ...result, text: textOf(result) }, job));
          done.add(result.customId);
          if (++unrecorded >= PROGRESS_EVERY) {
            unrecorded = 0;
            record();
          }
        } catch (err) {
          failures.push(err);
        }
      }),
    );
    await recording;
    if (failures.length === 0 && waiting.length === 0) return;
    const waits = progress.waits + (failures.length === 0 ? 1 : 0);
    await job.updateProgress({ handled: [...done], waits } satisfies Progress);
    if (failures.length) {
      const first = failures[0];
      if (failures.length === 1) throw first;
      const why = first instanceof Error ? first.message : String(first);
      throw new Error(`${failures.length} results of job ${job.id} failed; the first: ${why}`, {
        cause: first,
      });
    }
    // Not an attempt: the answers are being applied. 0.5 s, doubling, at most a minute.
    await job.moveToDelayed(Date.now() + Math.min(60_000, 500 * 2 ** (waits - 1)), token);
    throw new DelayedError();
  };

  const worker = new Worker<ResultJobData>(QUEUES.results, processJob, {
    connection,
    prefix,
    // Jobs fetched at once; the handlers of all of them share the `concurrency` limit.
    concurrency,
  });
  // Errors of the worker's own loop (Redis down, …) are reported here, never thrown into the void.
  worker.on('error', (err) => logger.error({ err }, 'result worker error'));
  worker.on('failed', (job, err) => {
    const last = job && job.attemptsMade >= (job.opts.attempts ?? attempts ?? 1);
    logger[last ? 'error' : 'warn'](
      {
        job: job?.id,
        results: job ? resultsOf(job.data).length : undefined,
        attempt: job?.attemptsMade,
        err,
      },
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
