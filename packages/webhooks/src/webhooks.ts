import { hostname } from 'node:os';
import {
  closeOnce,
  createLogger,
  type DeliveryJobData,
  type Logger,
  QUEUES,
  type ResultJobData,
  redactError,
} from '@nightshift/shared';
import { openQueue, type RedisClient, Store } from '@nightshift/store';
import { type Queue, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { deliveryBackoff, deliveryProcessor } from './deliver.js';
import { Dispatcher } from './dispatcher.js';
import { webhookInstruments } from './metrics.js';
import { resolveWebhooksOptions, type WebhooksOptions } from './options.js';
import { reportResultsConsumer, startResultsConsumer } from './results-consumer.js';

/** A running webhook role: dispatcher and delivery worker. */
export interface Webhooks {
  /** The `{webhooks}` queue (one job per delivery). */
  queue: Queue<DeliveryJobData>;
  /** The delivery worker, when running (its `completed` / `failed` events are BullMQ's). */
  worker: Worker<DeliveryJobData> | undefined;
  /** Stops taking events and deliveries, waits for those in progress. Idempotent. */
  close(): Promise<void>;
}

const DAY_S = 86_400;
const HEARTBEAT_MS = 15_000;
const HINT_MS = 10 * 60_000;

/** The dispatcher's own connection: its XREADGROUP blocks, and closing it cuts the wait short. */
function blockingCopy(conn: RedisClient, log: Logger): RedisClient {
  const copy = conn instanceof Cluster ? conn.duplicate() : conn.duplicate();
  // Without a listener ioredis prints its errors raw; they are the caller's connection's too, which
  // its owner logs (redacted, once per repeat window), so here only at debug.
  copy.on('error', (err: unknown) => log.debug({ err: redactError(err) }, 'dispatcher redis error'));
  return copy;
}

/**
 * Starts the webhook role (`nightshift-webhooks`): a dispatcher that turns the store's event outbox
 * into one `{webhooks}` job per (event, endpoint), and a worker that delivers them, signed per
 * Standard Webhooks, at least once, with backoff; with `consumeResults`, also the `{results}`
 * consumer of a deployment that has no result worker. Any number of processes may run it.
 */
export async function startWebhooks(options: WebhooksOptions): Promise<Webhooks> {
  const opts = resolveWebhooksOptions(options);
  const log = options.logger ?? createLogger('webhooks');
  const store = new Store(opts.connection, opts.prefix);
  const metrics = webhookInstruments(options.metrics);
  const queue = openQueue<DeliveryJobData>('webhooks', opts.connection, opts.prefix, {
    defaultJobOptions: {
      attempts: opts.attempts,
      backoff: { type: 'webhook' },
      // A delivered job is kept a day: the window in which fanning an event out again is a no-op.
      removeOnComplete: { age: DAY_S },
      removeOnFail: false,
    },
  });
  queue.on('error', (err) => log.warn({ err: redactError(err) }, 'webhooks queue error'));
  const results = openQueue<ResultJobData>('results', opts.connection, opts.prefix);
  let dispatcher: Dispatcher | undefined;
  if (opts.dispatch) {
    dispatcher = new Dispatcher(
      blockingCopy(opts.connection, log),
      store,
      queue,
      results,
      opts,
      log,
      metrics,
    );
    dispatcher.start();
  }
  const consumer =
    opts.consumeResults && opts.dispatch
      ? startResultsConsumer(opts.connection, opts.prefix, store, log, opts)
      : undefined;
  if (opts.consumeResults && !opts.dispatch)
    log.warn('consumeResults needs dispatch: this process does not consume {results}');
  let worker: Worker<DeliveryJobData> | undefined;
  if (opts.deliver) {
    worker = new Worker<DeliveryJobData>(QUEUES.webhooks, deliveryProcessor(store, opts, log, metrics), {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency,
      lockDuration: opts.lockDurationMs,
      stalledInterval: opts.lockDurationMs,
      settings: { backoffStrategy: deliveryBackoff(opts.backoffMs) },
    });
    worker.on('error', (err) => log.warn({ err: redactError(err) }, 'webhook worker error'));
    worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1))
        log.warn(
          { jobId: job.id, endpoint: job.data.endpoint, err: redactError(err).message },
          'webhook delivery failed',
        );
    });
  }
  log.info(
    {
      dispatch: opts.dispatch,
      deliver: opts.deliver,
      consumeResults: opts.consumeResults,
      concurrency: opts.concurrency,
    },
    'webhooks started',
  );
  // Results nobody consumes keep their text and full records in Redis: say so, and how to fix it.
  const hint = () =>
    reportResultsConsumer(store, results, opts.consumeResults, opts.now(), log).catch((err: unknown) =>
      log.debug({ err: redactError(err) }, 'results consumer check failed'),
    );
  void hint();
  const hinting = setInterval(hint, HINT_MS);
  hinting.unref();
  // A heartbeat, like the other roles: `nightshift health webhooks` (container health checks).
  const instance = `${hostname()}-${process.pid}`;
  const beat = () =>
    store.heartbeats
      .beat({ role: 'webhooks', instance, pid: process.pid, host: hostname(), at: opts.now() })
      .catch((err: unknown) => log.warn({ err: redactError(err) }, 'heartbeat failed'));
  // Not awaited: on a Redis that is down (or refuses the password) the worker connection waits,
  // and start-up must not, or the process could not even be stopped.
  void beat();
  const beating = setInterval(beat, HEARTBEAT_MS);
  beating.unref();
  return {
    queue,
    worker,
    close: closeOnce(async () => {
      clearInterval(beating);
      clearInterval(hinting);
      await dispatcher?.stop();
      // With Redis out of reach (down, or refusing the password) a delivery in progress cannot
      // finish and nothing can be written: stop at once (a job in progress is retried after its
      // lock, the heartbeat ages out) rather than wait for a Redis that may not come back.
      const reachable = opts.connection.status === 'ready';
      await Promise.all([worker?.close(!reachable), consumer?.close(!reachable)]);
      if (reachable) await store.heartbeats.remove('webhooks', instance).catch(() => {});
      await Promise.all([queue.close(), results.close()]);
    }),
  };
}
