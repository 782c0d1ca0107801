import { type Logger, redactError } from '@nightshift/shared';
import type { Job } from 'bullmq';

/** What a `{results}` job remembers between its attempts (kept as its BullMQ progress). */
export interface Progress {
  /** custom_ids handled or skipped: a retry does not call the handler for them again. */
  handled: string[];
  /** Times the job waited for real-time answers to be applied. */
  waits: number;
}

/** The progress a job carries (an empty one for a job not started or of an earlier format). */
export function progressOf(job: Job): Progress {
  const p = job.progress as Partial<Progress> | number | undefined;
  if (p && typeof p === 'object' && Array.isArray(p.handled)) {
    return { handled: p.handled, waits: Number(p.waits) || 0 };
  }
  return { handled: [], waits: 0 };
}

/** Handled results between two writes of a job's progress when nothing makes a write sooner. */
const WRITE_EVERY = 10;

/**
 * Keeps a job's record of its handled results (its progress in Redis) close behind its handler calls.
 * The worker asks {@link admit} before it hands each result to the handler, and admit waits while
 * more than `maxUnrecorded` handled results of the job are not yet recorded. So whenever a result
 * is handed out, at most `maxUnrecorded` handled results are unrecorded; a worker killed at any
 * moment leaves at most that many, plus the results of the job whose handler calls are in progress,
 * for the next attempt to hand out again.
 *
 * One write is in flight at a time; it carries every result handled when it starts (a write is the
 * whole list, so a later one replaces an earlier one). A write starts once `min(maxUnrecorded,
 * 10)` results are unrecorded (at least one), so a fast handler is not made to wait for one write per
 * result.
 */
export class ProgressRecorder {
  private readonly done: Set<string>;
  /** Handler calls of this attempt that returned. */
  private handled = 0;
  /** Of those, how many the last write Redis acknowledged covers. */
  private recorded = 0;
  private writing: Promise<void> | null = null;
  private failure: unknown;
  private readonly waiters: (() => void)[] = [];
  private readonly writeAt: number;

  constructor(
    private readonly job: Job,
    private readonly progress: Progress,
    private readonly maxUnrecorded: number,
    private readonly logger: Logger,
  ) {
    this.done = new Set(progress.handled);
    this.writeAt = Math.max(1, Math.min(maxUnrecorded, WRITE_EVERY));
  }

  /** Whether the job's progress already counts this custom_id as handled (or skipped). */
  has(customId: string): boolean {
    return this.done.has(customId);
  }

  /** The custom_ids the job has handled or skipped, this attempt and the ones before. */
  handledIds(): string[] {
    return [...this.done];
  }

  /** A result this job does not deliver: nothing to repeat, so it rides along with the next write. */
  skipped(customId: string): void {
    this.done.add(customId);
  }

  /** The handler returned for this result. */
  handledOne(customId: string): void {
    this.done.add(customId);
    this.handled++;
    this.writeIfDue();
  }

  /**
   * Resolves when the next result may be handed to the handler: at most `maxUnrecorded` handled
   * results are unrecorded. Rejects if a write failed (the job then fails and is retried, rather than
   * hand out results it cannot record).
   */
  async admit(): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.handled - this.recorded <= this.maxUnrecorded) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** True while {@link admit} would resolve at once. */
  get admits(): boolean {
    return this.failure === undefined && this.handled - this.recorded <= this.maxUnrecorded;
  }

  /** Waits for the write in flight, if any (its failure was reported through `admit`). */
  async settle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Writes the whole record once more, with `waits` (before a failed or waiting attempt ends). */
  async writeFinal(waits: number): Promise<void> {
    await this.settle();
    await this.job.updateProgress({ handled: [...this.done], waits } satisfies Progress);
  }

  private writeIfDue(): void {
    if (this.writing || this.failure !== undefined) return;
    if (this.handled - this.recorded < this.writeAt) return;
    const covers = this.handled;
    const record: Progress = { handled: [...this.done], waits: this.progress.waits };
    this.writing = this.job.updateProgress(record).then(
      () => {
        this.recorded = covers;
        this.writing = null;
        this.wake();
        this.writeIfDue();
      },
      (err: unknown) => {
        this.logger.warn({ err: redactError(err), job: this.job.id }, 'could not record handled results');
        this.failure = err;
        this.writing = null;
        this.wake();
      },
    );
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
