import { NightshiftError, type ResultJobData } from '@nightshift/shared';
import type { Job } from 'bullmq';
import type { StoreCore } from './core.js';
import { openQueue } from './queues.js';
import type { Store } from './store.js';
import { resultsWantedByWebhooks } from './webhook-endpoints.js';

/**
 * The layout of the store's keys, recorded in Redis (`<prefix>:{req}:layout`) so that a process
 * never works on data it would misread. A version lists what changed, oldest first.
 *
 * 1. Before the version was recorded: a succeeded record keeps everything (history, metadata,
 *    the delivery job) and its completed `{results}` job, message text and all, for the retention
 *    period.
 * 2. A delivered success is compacted (delivered.lua) and its result job removed once handled.
 *    Readers of layout 2 read layout 1's full records too: `nightshift migrate` only shrinks them.
 */
export const STORE_LAYOUT = 2;

/** The oldest layout this code reads and writes correctly; an older store must be migrated first. */
export const OLDEST_READABLE_LAYOUT = 1;

/** What a process found of the store's layout. */
export interface LayoutInfo {
  /** The store's layout version (1 when none is recorded but the store has data). */
  version: number;
  /** False for a store of before layout versions (version 1). */
  recorded: boolean;
  /** A migration to {@link STORE_LAYOUT} exists and has not run (`nightshift migrate`). */
  migrationAvailable: boolean;
}

/** The store was written in a layout this code cannot work on. */
export class StoreLayoutError extends NightshiftError {
  readonly found: number;
  constructor(found: number, message: string) {
    super('STORE_LAYOUT', message);
    this.name = 'StoreLayoutError';
    this.found = found;
  }
}

/**
 * Refuses a layout outside what this code reads: a newer one (written by a newer Nightshift) or
 * one older than {@link OLDEST_READABLE_LAYOUT} (to be migrated first). Pure, so each rule is
 * tested on its own; `bounds` are the code's own unless a test says otherwise.
 */
export function assertReadableLayout(
  found: number,
  prefix: string,
  bounds = { current: STORE_LAYOUT, oldest: OLDEST_READABLE_LAYOUT },
): void {
  if (!Number.isInteger(found) || found < 1) {
    throw new StoreLayoutError(
      found,
      `The store under prefix '${prefix}' records layout '${found}', which no Nightshift writes: check NIGHTSHIFT_PREFIX, or restore the key ${prefix}:{req}:layout.`,
    );
  }
  if (found > bounds.current) {
    throw new StoreLayoutError(
      found,
      `The store under prefix '${prefix}' has layout ${found}, newer than this Nightshift's ${bounds.current}: upgrade this process to the version that wrote it.`,
    );
  }
  if (found < bounds.oldest) {
    throw new StoreLayoutError(
      found,
      `The store under prefix '${prefix}' has layout ${found}, older than this Nightshift reads (${bounds.oldest} to ${bounds.current}): stop every role and run \`nightshift migrate\` once, then start them again.`,
    );
  }
}

/** What `migrate` did. */
export interface MigrationReport {
  from: number;
  to: number;
  /** Completed `{results}` jobs read. */
  resultJobs: number;
  /** Records compacted (delivered successes of layout 1). */
  compacted: number;
  /** Completed result jobs removed. */
  removedJobs: number;
  /**
   * Completed result jobs kept because a webhook endpoint subscribes to `request.succeeded` and the
   * job finished less than a day ago (the dispatcher may still read its text); a later run removes
   * them.
   */
  keptForWebhooks: number;
}

// Result jobs read at a time: each holds up to `resultsPerJob` messages (a few MB at most per page).
const PAGE = 10;
const DAY_MS = 86_400_000;

/** The store's layout version: read, checked once per process, migrated. */
export class Layout {
  private checked: Promise<LayoutInfo> | undefined;

  constructor(
    private readonly core: StoreCore,
    private readonly store: Store,
  ) {}

  /** The layout of the store as it is (records nothing). */
  async read(): Promise<LayoutInfo> {
    const { redis, keys } = this.core;
    const raw = await redis.hget(keys.layout, 'version');
    if (raw !== null) {
      const version = Number(raw);
      return { version, recorded: true, migrationAvailable: version < STORE_LAYOUT };
    }
    // A store that ever held a request has its feature counts (every enqueue writes them) or its
    // stats (every commit and apply): one of before layout versions. Stats alone would miss a
    // store whose requests were only enqueued so far.
    const hasData = (await redis.exists(keys.stats, keys.featureStats)) > 0;
    return hasData
      ? { version: 1, recorded: false, migrationAvailable: true }
      : { version: STORE_LAYOUT, recorded: false, migrationAvailable: false };
  }

  /**
   * Checks the layout before this process's first script (memoized; a failed check is tried again
   * next time): throws {@link StoreLayoutError} outside what this code reads, and records the
   * current layout on a store that holds nothing yet.
   */
  check(): Promise<LayoutInfo> {
    this.checked ??= this.checkNow().catch((err: unknown) => {
      this.checked = undefined;
      throw err;
    });
    return this.checked;
  }

  private async checkNow(): Promise<LayoutInfo> {
    const info = await this.read();
    assertReadableLayout(info.version, this.core.prefix);
    if (!info.recorded && info.version === STORE_LAYOUT) {
      // An empty store starts in the current layout. NX: two processes starting at once agree.
      await this.core.redis.hsetnx(this.core.keys.layout, 'version', String(STORE_LAYOUT));
      return { ...info, recorded: true };
    }
    return info;
  }

  /**
   * Brings the store to {@link STORE_LAYOUT}, step by step; idempotent and safe to run while the
   * roles run (each step is what the current roles do themselves). From layout 1: the records of
   * every completed `{results}` job are compacted as a result worker compacts them now, and the job
   * is removed.
   */
  async migrate(
    opts: { now?: number; onProgress?: (r: MigrationReport) => void } = {},
  ): Promise<MigrationReport> {
    const now = opts.now ?? Date.now();
    const info = await this.read();
    assertReadableLayout(info.version, this.core.prefix);
    const report: MigrationReport = {
      from: info.version,
      to: STORE_LAYOUT,
      resultJobs: 0,
      compacted: 0,
      removedJobs: 0,
      keptForWebhooks: 0,
    };
    await this.compactDelivered(report, now, opts.onProgress);
    await this.core.redis.hset(this.core.keys.layout, 'version', String(STORE_LAYOUT));
    this.checked = undefined;
    return report;
  }

  /** Layout 1 → 2: completed result jobs compact their records and go. */
  private async compactDelivered(
    report: MigrationReport,
    now: number,
    onProgress?: (r: MigrationReport) => void,
  ) {
    const queue = openQueue<ResultJobData>('results', this.core.redis, this.core.prefix);
    try {
      const keepRecent = await resultsWantedByWebhooks(this.store);
      // Removing jobs shifts the list: read from the start again each page, past the jobs kept.
      let skip = 0;
      for (;;) {
        const jobs = (await queue.getJobs(['completed'], skip, skip + PAGE - 1, true)).filter(
          (j): j is Job<ResultJobData> => Boolean(j?.id),
        );
        if (jobs.length === 0) break;
        for (const job of jobs) {
          report.resultJobs++;
          const cids = (job.data?.results ?? []).map((r) => r.customId);
          const done = await this.store.outcomes.delivered(job.id!, cids);
          report.compacted += done.filter(Boolean).length;
          if (keepRecent && (job.finishedOn ?? 0) > now - DAY_MS) {
            report.keptForWebhooks++;
            skip++;
          } else {
            await job.remove();
            report.removedJobs++;
          }
        }
        onProgress?.(report);
      }
    } finally {
      await queue.close();
    }
  }
}
