import { hostname } from 'node:os';
import {
  ConfigError,
  closeOnce,
  createLogger,
  DEFAULT_PREFIX,
  jobIds,
  QUEUES,
  type RequestRecord,
  type ResultJobData,
  type ResultPayload,
  redactError,
} from '@nightshift/shared';
import {
  awaitsRealtimeApply,
  createRedis,
  defaultJobOptions,
  describeRedis,
  isCompacted,
  logRedisErrors,
  type RedisClient,
  resultsInJob,
  Store,
} from '@nightshift/store';
import { DelayedError, type Job, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { checkConnectionChoice } from './connection.js';
import { Limiter } from './limiter.js';
import { ProgressRecorder, progressOf } from './progress-recorder.js';
import { deliverInSpan, deliveryInstruments } from './result-metrics.js';
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
function fateOf(
  jobId: string,
  cid: string,
  rec: Pick<RequestRecord, 'state' | 'delivery' | 'customId'> | null,
): Fate {
  // No record (gone after the retention period): nothing to check against, the job is all we have.
  if (!rec) return 'deliver';
  // Compacted: its result was handed over already (by this job before a crash, or by another).
  if (isCompacted(rec)) return 'skip';
  if (rec.delivery === jobId) return 'deliver';
  // Succeeded before deliveries were named: its job is its `res-<custom_id>`.
  if (jobId === jobIds.result(cid) && !rec.delivery && rec.state === 'succeeded') return 'deliver';
  if (awaitsRealtimeApply(jobId, cid, rec.state)) return 'wait';
  return 'skip';
}

/** Times a job may be left behind by a dead worker before it fails ("stalled more than allowable"). */
const MAX_STALLS = 10;

/** The numeric options with their defaults; throws a CONFIG error naming each bad one. */
function checkNumbers(opts: ResultWorkerOptions) {
  const { concurrency = 1, maxUnrecorded = 10, lockDurationMs = 30_000 } = opts;
  const bad: string[] = [];
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) bad.push('concurrency must be an integer ≥ 1');
  if (!((Number.isInteger(maxUnrecorded) && maxUnrecorded >= 0) || maxUnrecorded === Infinity)) {
    bad.push('maxUnrecorded must be an integer ≥ 0 (or Infinity for no bound)');
  }
  if (!(Number.isInteger(lockDurationMs) && lockDurationMs >= 1_000)) {
    bad.push('lockDurationMs must be an integer ≥ 1000');
  }
  if (bad.length) throw new ConfigError(`createResultWorker: ${bad.join('; ')}`);
  return { concurrency, maxUnrecorded, lockDurationMs };
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
  const own = checkConnectionChoice('createResultWorker', opts ?? {});
  if (typeof opts.handler !== 'function') {
    throw new ConfigError('createResultWorker: handler must be a function');
  }
  const { concurrency, maxUnrecorded, lockDurationMs } = checkNumbers(opts);
  const logger = opts.logger ?? createLogger('result-worker');
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  // The worker always owns its connection: BullMQ workers need maxRetriesPerRequest null.
  const connection = own ? createRedis(own, 'worker') : workerConnection(opts.connection as RedisClient);
  // Its connection errors are logged here, redacted (ioredis would print them as unhandled).
  logRedisErrors(connection, logger, own ? describeRedis(own) : 'the connection passed in');
  const store = new Store(connection, prefix);
  const handlers = new Limiter(concurrency);
  const { attempts } = defaultJobOptions('results');
  const measure = deliveryInstruments(opts.metrics);

  const processJob = async (job: Job<ResultJobData>, token?: string) => {
    const progress = progressOf(job);
    const recorder = new ProgressRecorder(job, progress, maxUnrecorded, logger);
    const todo = resultsInJob(job.data).filter((r) => !recorder.has(r.customId));
    const recs = await store.records.peekMany(
      todo.map((r) => r.customId),
      ['state', 'delivery', 'enqueuedAt', 'customId'],
    );
    const waiting: string[] = [];
    const failures: unknown[] = [];
    const running: Promise<void>[] = [];
    // Results are handed out one after the other, each once the recorder admits it and a handler
    // slot is free; up to `concurrency` run at once (across jobs).
    for (const [i, result] of todo.entries()) {
      const rec = recs[i] ?? null;
      const fate = fateOf(job.id ?? '', result.customId, rec);
      if (fate !== 'deliver') measure.result(result.feature, fate === 'wait' ? 'waiting' : 'skipped');
      if (fate === 'wait') {
        waiting.push(result.customId);
        continue;
      }
      if (fate === 'skip') {
        logger.debug({ customId: result.customId, job: job.id }, 'result delivered by another job: skipped');
        recorder.skipped(result.customId);
        continue;
      }
      let release: () => void;
      try {
        release = await admitted(recorder);
      } catch (err) {
        failures.push(err); // the record cannot be written: hand out nothing more
        break;
      }
      running.push(
        (async () => {
          try {
            await deliverInSpan(result, job, async () => {
              const started = performance.now();
              try {
                await opts.handler({ ...result, text: textOf(result) }, job);
              } finally {
                measure.handler(result.feature, (performance.now() - started) / 1000);
              }
            });
            measure.result(result.feature, 'delivered', Number(rec?.enqueuedAt) || undefined);
            recorder.handledOne(result.customId);
          } catch (err) {
            measure.result(result.feature, 'failed');
            failures.push(err);
          } finally {
            release();
          }
        })(),
      );
    }
    await Promise.all(running);
    await recorder.settle();
    // What this job has handed over leaves Redis but a compact record (store.outcomes.delivered):
    // before the job completes (and, completed, is removed), so a crash in between only means the
    // next attempt compacts them. Records this job does not name are left alone.
    await store.outcomes.delivered(job.id ?? '', recorder.handledIds());
    if (failures.length === 0 && waiting.length === 0) return;
    const waits = progress.waits + (failures.length === 0 ? 1 : 0);
    await recorder.writeFinal(waits);
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

  /**
   * A handler slot for the job's next result, taken once the recorder admits one. The slot is
   * checked again after the wait for it: the job's handlers still running may have finished
   * meanwhile and left too many results unrecorded.
   */
  const admitted = async (recorder: ProgressRecorder): Promise<() => void> => {
    for (;;) {
      await recorder.admit();
      const release = await handlers.acquire();
      if (recorder.admits) return release;
      release();
    }
  };

  const worker = new Worker<ResultJobData>(QUEUES.results, processJob, {
    connection,
    prefix,
    // Jobs fetched at once; the handlers of all of them share the `concurrency` limit.
    concurrency,
    // Stored on each job it takes (`processedBy`): which process has (or last had) a job.
    name: `result-worker-${hostname()}-${process.pid}`,
    // A killed worker's job goes back to the queue once its lock has expired and a stalled check
    // has seen it: between half a lock and a lock and a half after the kill.
    lockDuration: lockDurationMs,
    stalledInterval: Math.ceil(lockDurationMs / 2),
    // A job whose worker dies mid-job is handed out again (up to 10 times: a result that crashes
    // every worker that handles it must not do so for ever; it then fails, visible on the board).
    maxStalledCount: MAX_STALLS,
  });
  // Errors of the worker's own loop (Redis down, …) are reported here, never thrown into the void.
  // Redacted: a Redis error carries the AUTH arguments, and the logger may be the caller's.
  worker.on('error', (err) => logger.error({ err: redactError(err) }, 'result worker error'));
  worker.on('failed', (job, err) => {
    const last = job && job.attemptsMade >= (job.opts.attempts ?? attempts ?? 1);
    logger[last ? 'error' : 'warn'](
      {
        job: job?.id,
        results: job ? resultsInJob(job.data).length : undefined,
        attempt: job?.attemptsMade,
        err: redactError(err),
      },
      last
        ? 'result handler failed for the last time; the job stays in failed'
        : 'result handler failed; will retry',
    );
  });
  return {
    worker,
    close: closeOnce(async () => {
      await worker.close();
      await connection.quit().catch(() => connection.disconnect());
    }),
  };
}
