import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { type BatchJobData, type DeadLetterPayload, jobIds, safeEmit } from '@nightshift/shared';
import { openQueue, Store } from '@nightshift/store';
import { type Job, type Queue, Worker } from 'bullmq';
import { ensureTrackingJobs } from './commit.js';
import type { FlushContext } from './context.js';
import type { BatcherEvents, FlushReport } from './events.js';
import { type FlushTrigger, runFlush } from './flush.js';

import { instrumentBatcher } from './metrics.js';
import { type BatcherOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { recoverSubmissions } from './recover.js';

/** Data of a `{flush}` job: a manual flush may name one partition. */
interface FlushJobData {
  partition?: string;
}

/** A running batcher. Events: see {@link BatcherEvents}. */
export interface Batcher extends EventEmitter<BatcherEvents> {
  /**
   * Flushes now, whatever the size/time triggers say (`minRequests` does not apply). Goes through
   * the `{flush}` queue, so it never overlaps a tick; resolves with the flush's report (a worker in
   * some process must be running).
   */
  flushNow(opts?: { partition?: string; timeoutMs?: number }): Promise<FlushReport>;
  /**
   * Runs one flush directly in this process (still under the flush lock), for tests and benches.
   * `reason` 'manual' flushes every partition like `flushNow`; any other label (default 'direct')
   * decides by the triggers like a tick. It becomes the report's `trigger`.
   */
  runFlushOnce(reason?: string): Promise<FlushReport>;
  /**
   * Stops: the flush in progress finishes its current batch, the worker and queues close, the
   * heartbeat is removed. Idempotent. The caller's Redis connection stays open.
   */
  close(): Promise<void>;
}

class BatcherImpl extends EventEmitter<BatcherEvents> implements Batcher {
  private readonly store: Store;
  private readonly flushQueue: Queue<FlushJobData>;
  private readonly ctx: FlushContext;
  private worker: Worker<FlushJobData, FlushReport> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private lastWork: number | undefined;
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly opts: ResolvedOptions) {
    super();
    const { connection, prefix } = opts;
    this.store = new Store(connection, prefix);
    this.flushQueue = openQueue<FlushJobData>('flush', connection, prefix);
    this.ctx = {
      opts,
      store: this.store,
      log: opts.logger,
      batchesQueue: openQueue<BatchJobData>('batches', connection, prefix),
      deadLetterQueue: openQueue<DeadLetterPayload>('deadLetters', connection, prefix),
      emit: (event, ...args) => this.safeEmit(event, ...args),
      isClosing: () => this.closing !== undefined,
      hooks: opts.testOnlyHooks,
    };
    for (const q of [this.flushQueue, this.ctx.batchesQueue, this.ctx.deadLetterQueue]) {
      q.on('error', (err) => this.safeEmit('error', err));
    }
    this.on('flush:done', (r) => {
      if (!r.skipped) this.lastWork = r.endedAt;
    });
    if (opts.metrics) instrumentBatcher(opts.metrics, this);
  }

  /** Emits without letting a listener's exception escape into a background loop. */
  private safeEmit<K extends keyof BatcherEvents>(event: K, ...args: BatcherEvents[K]) {
    safeEmit(this, this.opts.logger, 'batcher', event, ...args);
  }

  async start(): Promise<void> {
    const { opts } = this;
    await this.flushQueue.setGlobalConcurrency(1);
    // Idempotent: one scheduler whatever the number of processes or restarts. A process without a
    // worker (the CLI) only creates it when missing, so it never changes a running batcher's tick.
    if (opts.runWorker || !(await this.flushQueue.getJobScheduler(jobIds.flushScheduler))) {
      await this.flushQueue.upsertJobScheduler(
        jobIds.flushScheduler,
        { every: opts.tickMs },
        { name: 'tick', opts: { removeOnComplete: 100, removeOnFail: 500 } },
      );
    }
    if (!opts.runWorker) return;
    if (opts.budgets) await this.store.budgets.sync(opts.budgets);
    await this.startupRecovery();
    this.heartbeatTimer = setInterval(() => void this.beat(), opts.heartbeatMs);
    this.heartbeatTimer.unref();
    await this.beat();
    // The `{flush}` job's lock lasts one flush-lock lease (BullMQ renews it every half while the job
    // runs) and stalled jobs are looked for as often: with the queue's global concurrency of 1, the
    // active job of a killed batcher would otherwise stop every batcher until its lock expired.
    this.worker = new Worker<FlushJobData, FlushReport>(
      this.flushQueue.name,
      (job) => this.track(this.process(job)),
      {
        connection: opts.connection,
        prefix: opts.prefix,
        concurrency: 1,
        lockDuration: opts.flushLockMs,
        stalledInterval: opts.flushLockMs,
      },
    );
    this.worker.on('error', (err) => this.safeEmit('error', err));
    this.worker.on('failed', (job, err) => {
      this.safeEmit('error', new Error(`flush job ${job?.id ?? '?'} failed: ${err.message}`, { cause: err }));
    });
    opts.logger.info({ instance: opts.instance, tickMs: opts.tickMs }, 'batcher started');
  }

  /** Recovery once at start-up, under the flush lock (another process's flush does it otherwise). */
  private async startupRecovery() {
    const lock = this.store.flushLock(this.opts.flushLockMs, (err) => this.safeEmit('error', err));
    if (!(await lock.acquire())) return;
    try {
      await recoverSubmissions(this.ctx);
      await ensureTrackingJobs(this.ctx);
    } finally {
      await lock.release();
    }
  }

  private process(job: Job<FlushJobData, FlushReport>): Promise<FlushReport> {
    const trigger: FlushTrigger =
      job.name === 'manual'
        ? { kind: 'manual', ...(job.data?.partition !== undefined ? { partition: job.data.partition } : {}) }
        : { kind: 'tick' };
    return runFlush(this.ctx, trigger);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const done = () => this.running.delete(p);
    p.then(done, done);
    return p;
  }

  private async beat() {
    try {
      const at = this.opts.now();
      await this.store.heartbeats.beat({
        role: 'batcher',
        instance: this.opts.instance,
        pid: process.pid,
        host: hostname(),
        at,
        ...(this.lastWork !== undefined ? { lastWork: this.lastWork } : {}),
      });
      this.safeEmit('heartbeat', { at });
    } catch (err) {
      this.safeEmit('error', err as Error);
    }
  }

  async flushNow(o: { partition?: string; timeoutMs?: number } = {}): Promise<FlushReport> {
    if (this.closing) throw new Error('flushNow: the batcher is closing');
    const job = await this.flushQueue.add(
      'manual',
      o.partition !== undefined ? { partition: o.partition } : {},
      { removeOnComplete: 100, removeOnFail: 500 },
    );
    return waitForJob(this.flushQueue, job.id!, o.timeoutMs ?? 15 * 60_000);
  }

  runFlushOnce(reason = 'direct'): Promise<FlushReport> {
    return this.track(runFlush(this.ctx, { kind: reason }));
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose() {
    clearInterval(this.heartbeatTimer);
    await this.worker?.close();
    await Promise.allSettled([...this.running]);
    await Promise.allSettled([
      this.flushQueue.close(),
      this.ctx.batchesQueue.close(),
      this.ctx.deadLetterQueue.close(),
    ]);
    if (!this.opts.runWorker) return;
    try {
      await this.store.heartbeats.remove('batcher', this.opts.instance);
    } catch (err) {
      this.safeEmit('error', err as Error);
    }
    this.opts.logger.info({ instance: this.opts.instance }, 'batcher closed');
  }
}

/** Polls a job until it finishes (no QueueEvents connection needed for an occasional manual flush). */
async function waitForJob(queue: Queue, id: string, timeoutMs: number): Promise<FlushReport> {
  const until = Date.now() + timeoutMs;
  let delay = 25;
  for (;;) {
    const job = await queue.getJob(id);
    if (!job) throw new Error(`flush job ${id} disappeared before it finished`);
    if (job.finishedOn) {
      if (job.failedReason) throw new Error(`flush job ${id} failed: ${job.failedReason}`);
      return job.returnvalue as FlushReport;
    }
    if (Date.now() > until) throw new Error(`flush job ${id} did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/**
 * Starts a batcher: upserts the `{flush}` scheduler (one per prefix, whatever the number of
 * processes), recovers dangling submissions, starts the heartbeat and (unless `runWorker: false`)
 * the single-flight `{flush}` worker.
 */
export async function startBatcher(options: BatcherOptions): Promise<Batcher> {
  const opts = resolveOptions(options);
  const b = new BatcherImpl(opts);
  try {
    await b.start();
  } catch (err) {
    await b.close();
    throw err;
  }
  return b;
}
