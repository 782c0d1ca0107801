import { EventEmitter, setMaxListeners } from 'node:events';
import { jobIds, QUEUES, redactError, safeEmit } from '@nightshift/shared';
import { defaultJobOptions, ModelAlerts, openQueue, Store } from '@nightshift/store';
import { type Queue, Worker } from 'bullmq';
import { asError } from './errors.js';
import { instrumentCollector } from './metrics.js';
import { type CollectorOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { createBatchProcessor, type TrackingData } from './poll.js';
import { heartbeat, type SweepMemory, sweep } from './sweep.js';
import type { BatchOutcome, CollectorEvents, Ctx, SweepReport } from './types.js';

/**
 * A running collector. Close it with `close()`; it emits the events of {@link CollectorEvents}.
 */
export interface Collector extends EventEmitter<CollectorEvents> {
  /** This process's name in heartbeats. */
  readonly instance: string;
  /**
   * Runs the `{collect}` sweep now, in this process, including the parts a scheduled sweep runs only
   * now and then (orphan adoption, retention). Sweeps of one process never overlap.
   */
  sweepNow(): Promise<SweepReport>;
  /**
   * Stops the collector; idempotent (a second call returns the same promise). Polls and result
   * streams in progress stop at the next chunk boundary: what is applied stays applied, and the
   * tracking job is handed back to `{batches}` at once (moved to delayed with no delay), so any
   * collector — this one after a restart, or another — continues right away without waiting for
   * BullMQ's stalled-job recovery. Only a kill -9 leaves a job to that recovery (after lockDurationMs).
   */
  close(): Promise<void>;
}

class CollectorImpl extends EventEmitter<CollectorEvents> implements Collector {
  readonly instance: string;
  private readonly ctx: Ctx;
  private readonly abort = new AbortController();
  private readonly workers: Worker[] = [];
  private collectQueue: Queue | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private readonly memory: SweepMemory;
  private epoch = 0;
  private readonly onReady = () => {
    this.epoch++;
  };

  constructor(private readonly opts: ResolvedOptions) {
    super();
    // Counts reconnections of the caller's connection (see Ctx.redisEpoch); removed in close().
    opts.connection.on('ready', this.onReady);
    this.instance = opts.instance;
    // Every SDK call in progress listens on this signal: batches at once × (poll or stream, and the
    // real-time calls of their chunks) may exceed Node's default warning threshold of 10.
    setMaxListeners(Math.max(10, opts.concurrency * 6), this.abort.signal);
    const { connection: conn, prefix, retentionDays } = opts;
    const keep = (role: 'results' | 'deadLetters' | 'batches') => ({
      defaultJobOptions: defaultJobOptions(role, retentionDays),
    });
    const store = new Store(conn, prefix);
    this.ctx = {
      opts,
      store,
      modelAlerts: new ModelAlerts(store, opts.now),
      client: opts.client,
      log: opts.logger,
      now: opts.now,
      queues: {
        results: openQueue('results', conn, prefix, keep('results')),
        deadLetters: openQueue('deadLetters', conn, prefix, keep('deadLetters')),
        batches: openQueue('batches', conn, prefix, keep('batches')),
      },
      signal: this.abort.signal,
      // Guarded: a listener that throws must not break a poll or a sweep.
      emit: (event, ...args) => safeEmit(this, opts.logger, 'collector', event, ...args),
      reportError: (err, where) => this.reportError(err, where),
      lastPollAt: 0,
      redisEpoch: () => this.epoch,
      startedAt: opts.now(),
      instruments: undefined,
    };
    if (opts.metrics) this.ctx.instruments = instrumentCollector(opts.metrics, this);
    // Retention (and its one-time indexing of older records) waits while the backlog of a restart is
    // being applied: it runs an hour in, and hourly after. sweepNow() runs it at once.
    this.memory = { lastRetention: this.ctx.startedAt, lastOrphanScan: 0, foreign: new Set() };
  }

  private reportError(err: unknown, where: string) {
    const error = asError(err);
    // Redacted: a Redis error carries the AUTH arguments, and the logger may be the caller's.
    this.ctx.log.error({ err: redactError(error), where }, `collector: ${where} failed`);
    // An 'error' event nobody listens to would throw; the log line above is then the report.
    if (this.listenerCount('error') > 0) safeEmit(this, this.ctx.log, 'collector', 'error', error);
  }

  async start(): Promise<void> {
    await heartbeat(this.ctx);
    if (!this.opts.runWorker) return;
    const { connection, prefix, pollMs, concurrency, lockDurationMs } = this.opts;
    this.collectQueue = openQueue('collect', connection, prefix);
    await this.collectQueue.upsertJobScheduler(
      jobIds.collectScheduler,
      { every: pollMs },
      { name: 'sweep', opts: { removeOnComplete: 100, removeOnFail: 500 } },
    );
    const batches = new Worker<TrackingData, BatchOutcome>(QUEUES.batches, createBatchProcessor(this.ctx), {
      connection,
      prefix,
      concurrency,
      // Stored on each job it takes (`processedBy`): which collector has (or last had) a batch.
      name: this.instance,
      lockDuration: lockDurationMs,
      stalledInterval: Math.ceil(lockDurationMs / 2),
      maxStalledCount: 10,
    });
    const collect = new Worker(QUEUES.collect, async () => summarize(await this.runSweep(false)), {
      connection,
      prefix,
      concurrency: 1,
    });
    for (const w of [batches, collect]) {
      w.on('error', (err) => this.reportError(err, `worker ${w.name}`));
      w.on('failed', (job, err) => {
        if (err?.name !== 'DelayedError') this.reportError(err, `job ${job?.id ?? '?'} in ${w.name}`);
      });
      this.workers.push(w);
    }
    this.ctx.log.info({ instance: this.instance, prefix, concurrency }, 'collector started');
  }

  /** Sweeps of one process run one after the other. */
  private runSweep(force: boolean): Promise<SweepReport> {
    const run = this.sweeping.then(() => sweep(this.ctx, this.memory, force));
    this.sweeping = run.catch(() => undefined);
    return run;
  }

  sweepNow(): Promise<SweepReport> {
    return this.runSweep(true);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.abort.abort();
    this.opts.connection.off('ready', this.onReady);
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await this.sweeping;
    const { queues, store } = this.ctx;
    await store.heartbeats.remove('collector', this.instance).catch(() => undefined);
    await Promise.allSettled(
      [queues.results, queues.deadLetters, queues.batches, this.collectQueue].map((q) => q?.close()),
    );
    this.ctx.log.info({ instance: this.instance }, 'collector closed');
  }
}

function summarize(r: SweepReport) {
  return {
    inflight: r.inflight,
    trackingJobsAdded: r.trackingJobsAdded.length,
    alertsRaised: r.alertsRaised,
    alertsCleared: r.alertsCleared,
    errors: r.errors,
  };
}

/**
 * Starts a collector: the `{batches}` worker (one tracking job per batch: poll, stream results,
 * apply each exactly once), the `{collect}` sweep scheduler and its worker, and a heartbeat.
 * Several collectors may run at once; BullMQ's job lock keeps each batch with one of them.
 */
export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const collector = new CollectorImpl(resolveOptions(options));
  await collector.start();
  return collector;
}
