import { BaseAdapter } from '@bull-board/api/dist/queueAdapters/base.js';
import type {
  AppJobScheduler,
  JobCounts,
  JobSchedulerUpdateResult,
  JobState,
  JobStatus,
  QueueJob,
  QueueJobJson,
  QueueMetrics,
  Status,
} from '@bull-board/api/typings/app';
import { jobIds } from '@nightshift/shared';
import {
  type BoardRequest,
  type BoardState,
  boardCounts,
  boardPage,
  boardRequests,
  codeText,
  delayedIds,
  promoteRequests,
} from '@nightshift/store';
import { retryDeadLetter } from './actions.js';
import type { BoardContext } from './context.js';
import { LIST_DATA_BYTES, MAX_SHOWN_CHARS, truncateText, truncateValue } from './limits.js';

/** The Bull Board queue of the store's requests (its name in URLs: `/queues/queue/requests/<custom_id>`). */
export const REQUESTS_QUEUE = 'requests';

/** Bull Board's link to one request. */
export const requestUrl = (customId: string) =>
  `/queues/queue/${REQUESTS_QUEUE}/${encodeURIComponent(customId)}`;

const STATES: BoardState[] = ['active', 'waiting', 'delayed', 'completed', 'failed'];
/** Params above this are not read for a list (the job's own page shows them). */
const LIST_PARAMS_BYTES = LIST_DATA_BYTES;
/** A `{results}` job (up to 100 results) above this is not read for a list: usage then shows on the job's page. */
const LIST_RESULT_BYTES = 256 * 1024;
/** What a custom_id can be (anything else is no request: not looked up). */
const CUSTOM_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** What one job's page reads at most of its params and of its `{results}` job (up to 100 results). */
const DETAIL_BYTES = 16 * 1024 * 1024;

/** A stored time as ISO text; null when unset, "out of range" when `Date` cannot hold it. */
const iso = (ms: number | string | undefined) => {
  const n = Number(ms);
  if (ms === '' || ms === undefined || !Number.isFinite(n) || n <= 0) return null;
  return n > 8.64e15 ? 'out of range' : new Date(n).toISOString();
};

function age(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} days`;
}

function parsed(json: string | null | undefined): unknown {
  if (!json) return null;
  try {
    return JSON.parse(json);
  } catch {
    return truncateText(json);
  }
}

/** The Bull Board state of a request record, or 'unknown' (canceled, or a state Bull Board has no word for). */
function stateOf(r: BoardRequest, now: number): JobState {
  switch (r.record.state) {
    case 'queued':
      return Number(r.record.readyAt) > now ? 'delayed' : 'waiting';
    case 'claimed':
    case 'realtime':
      return 'active';
    case 'succeeded':
      return 'completed';
    case 'dead':
      return 'failed';
    default:
      return 'unknown';
  }
}

/** What a person reads on the job's Data tab: the request, where it is, and what came of it. */
function dataOf(r: BoardRequest, state: JobState, now: number): Record<string, unknown> {
  const rec = r.record;
  const out: Record<string, unknown> = {
    customId: rec.customId,
    state: rec.state,
    feature: rec.feature,
    model: rec.model,
    partition: rec.partition || '(none)',
    enqueuedAt: iso(rec.enqueuedAt),
    deadline: iso(rec.deadline),
    attempt: Number(rec.attempt),
  };
  if (state === 'delayed') out.readyAt = iso(rec.readyAt);
  if (r.batch) {
    out.batch = {
      id: r.batch.id,
      status: r.batch.status,
      age: age(now - r.batch.submittedAt),
      expiresAt: iso(r.batch.expiresAt),
    };
  } else if (r.submission) {
    out.submission = { id: r.submission.id, state: r.submission.state, age: age(now - r.submission.created) };
  }
  if (rec.state === 'realtime') out.path = 'real-time call in progress (list price)';
  if (rec.state === 'dead') {
    out.reason = rec.reason ?? '';
    out.lastError = parsed(rec.lastError);
  } else if (rec.lastError && rec.state === 'queued') {
    out.lastError = parsed(rec.lastError);
  }
  if (rec.state === 'succeeded') {
    out.completedAt = iso(rec.completedAt);
    if (rec.batchId) out.batchId = rec.batchId;
    if (r.result) {
      out.usage = r.result.usage;
      out.costUsd = r.result.cost.cost;
      out.savingsUsd = r.result.cost.savings;
    } else if (r.resultOmittedBytes) {
      out.usage = `in its {results} job (${r.resultOmittedBytes} bytes): open the job to see usage, cost and result`;
    } else if (rec.costNano) {
      // Delivered: its job is gone and its record compacted; the cost is what the record keeps.
      out.costUsd = Number(rec.costNano) / 1e9;
    }
  }
  if (r.history.length) out.attempts = r.history.map(historyLine);
  out.metadata = parsed(rec.metadata);
  if (r.params !== null) out.params = parsed(r.params);
  else if (rec.state !== 'succeeded') {
    out.params = `${rec.bytes} bytes, not loaded for the list: open the job to see them`;
  }
  return out;
}

function historyLine(h: BoardRequest['history'][number]): string {
  const where = h.batchId ? ` in ${h.batchId}` : '';
  const why = [h.errorType, h.errorCode, h.message].filter(Boolean).join(': ');
  return `attempt ${h.attempt}${where}: ${h.outcome}${why ? ` (${why})` : ''} at ${iso(h.at)}`;
}

/** One request as a Bull Board job. Its actions go through the store's scripts, nothing else. */
class RequestJob implements QueueJob {
  readonly opts: { delay?: number };
  readonly id: string;

  constructor(
    private readonly ctx: BoardContext,
    private readonly r: BoardRequest,
    private readonly state: JobState,
    private readonly now: number,
  ) {
    const delay = state === 'delayed' ? Number(r.record.readyAt) - Number(r.record.enqueuedAt) : undefined;
    this.opts = delay === undefined ? {} : { delay };
    this.id = r.record.customId;
  }

  toJSON(): QueueJobJson {
    const rec = this.r.record;
    const result = this.r.result;
    const text = result?.message.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
    const dead = rec.state === 'dead';
    const lastError = parsed(rec.lastError) as { message?: string } | null;
    return {
      id: rec.customId,
      // A compacted (delivered) record keeps neither feature nor model.
      name: rec.feature
        ? `${rec.partition ? `${rec.partition} / ` : ''}${rec.feature} · ${rec.model}`
        : 'delivered',
      progress: this.state === 'completed' ? 100 : 0,
      attemptsMade: this.r.history.length,
      timestamp: Number(rec.enqueuedAt),
      // When it left the queue, as far as the record knows (a final one: its last attempt).
      processedOn:
        this.r.submission?.created ??
        (rec.state === 'realtime' ? Number(rec.updatedAt) : (this.r.history.at(-1)?.at ?? null)),
      finishedOn: rec.completedAt ? Number(rec.completedAt) : null,
      ...(this.opts.delay !== undefined ? { delay: this.opts.delay } : {}),
      failedReason: dead
        ? `${rec.reason ?? 'dead'}${lastError?.message ? `: ${lastError.message}` : ''}`
        : '',
      stacktrace: dead ? this.r.history.map(historyLine) : null,
      data: dataOf(this.r, this.state, this.now),
      returnvalue:
        result && text !== undefined
          ? {
              text: truncateText(text, MAX_SHOWN_CHARS * 5),
              stopReason: result.message.stop_reason,
              usage: result.usage,
              cost: result.cost,
            }
          : null,
      opts: this.opts,
    };
  }

  async getState(): Promise<JobState> {
    return this.state;
  }

  /** Retry of a dead request: exactly the board's dead-letter retry. */
  async retry(): Promise<void> {
    const jobId = jobIds.deadLetter(this.r.record.customId, Number(this.r.record.deaths));
    const res = await retryDeadLetter(this.ctx, jobId);
    if (!res.ok) throw new Error(res.message);
  }

  /** Ready now: the request leaves its backoff (promote.lua). */
  async promote(): Promise<void> {
    const [result] = await promoteRequests(this.ctx.store, [this.r.record.customId], this.ctx.opts.now());
    if (result?.code !== 'ok' && result?.code !== 'ready')
      throw new Error(`${this.r.record.customId} is not in backoff (${result && codeText(result)}).`);
  }

  /** Remove = cancel: only a request that is still queued (the store's cancel). */
  async remove(): Promise<void> {
    const [result] = await this.ctx.store.records.cancel([this.r.record.customId], this.ctx.opts.now());
    if (result?.code !== 'ok')
      throw new Error(`${this.r.record.customId} was not canceled (${result && codeText(result)}).`);
    this.ctx.logger.info({ customId: this.r.record.customId }, 'request canceled from Bull Board');
  }
}

const refuse = (what: string): Promise<never> =>
  Promise.reject(new Error(`Nightshift's requests queue does not ${what}.`));

/**
 * Bull Board's view of the store's requests: one queue, the partition in each job's name. Counts and
 * pages come from the store's counters and indexes (`boardCounts`, `boardPage`), so a page view
 * costs the same at a thousand queued requests as at a million. Retry (dead), promote (delayed)
 * and remove (= cancel, queued) run the store's own scripts; pause / resume pause batching (the
 * `{flush}` queue), since one queue holds every partition. Everything else is refused.
 */
export class RequestsAdapter extends BaseAdapter {
  constructor(private readonly ctx: BoardContext) {
    // 'bull': Bull Board then asks no BullMQ-only questions of it (flows, qualified names).
    super('bull', {
      readOnlyMode: ctx.opts.readOnly,
      allowRetries: true,
      allowCompletedRetries: false,
      displayName: 'requests',
      description:
        'Every request in the store, as jobs: waiting = queued and ready, delayed = in retry backoff, active = in a submission or batch, completed = succeeded, failed = dead-lettered. Retry a failed one, promote a delayed one, remove (cancel) a queued one. Pause stops all batching ({flush}).',
    });
    for (const field of ['data', 'returnValue'] as const) this.setFormatter(field, truncateValue);
  }

  getName(): string {
    return REQUESTS_QUEUE;
  }

  getJobCounts(): Promise<JobCounts> {
    return boardCounts(this.ctx.store, this.ctx.queues.deadLetters, this.ctx.opts.now());
  }

  async getJobs(statuses: JobStatus[], start = 0, end = -1): Promise<QueueJob[]> {
    const now = this.ctx.opts.now();
    const wanted = STATES.filter((s) => statuses.includes(s));
    const last = end < 0 ? start + 49 : end;
    const pages = await Promise.all(
      wanted.map((s) => boardPage(this.ctx.store, this.ctx.queues.deadLetters, s, start, last, now)),
    );
    return this.jobsOf(pages.flat(), { params: LIST_PARAMS_BYTES, results: LIST_RESULT_BYTES }, now);
  }

  async getJob(id: string): Promise<QueueJob | undefined> {
    if (!CUSTOM_ID.test(id)) return undefined;
    const bytes = DETAIL_BYTES;
    const [job] = await this.jobsOf([id], { params: bytes, results: bytes }, this.ctx.opts.now());
    return job;
  }

  private async jobsOf(
    cids: string[],
    bytes: { params: number; results: number },
    now: number,
  ): Promise<RequestJob[]> {
    const reqs = await boardRequests(this.ctx.store, this.ctx.queues.results, cids, {
      paramsUpTo: bytes.params,
      resultDataBytes: bytes.results,
    });
    return reqs.flatMap((r) => (r ? [new RequestJob(this.ctx, r, stateOf(r, now), now)] : []));
  }

  getStatuses(): Status[] {
    return ['latest', ...this.getJobStatuses()];
  }

  getJobStatuses(): JobStatus[] {
    return [...STATES];
  }

  async getJobLogs(): Promise<string[]> {
    return [];
  }

  async getMetrics(): Promise<QueueMetrics> {
    return { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [], count: 0 };
  }

  async getRedisInfo(): Promise<string | null> {
    return (await this.ctx.queues.flush.backend.client).info();
  }

  isPaused(): Promise<boolean> {
    return this.ctx.queues.flush.isPaused();
  }

  pause(): Promise<void> {
    return this.ctx.queues.flush.pause();
  }

  resume(): Promise<void> {
    return this.ctx.queues.flush.resume();
  }

  /** Every request in backoff ready now, 500 at a time (promote.lua). */
  async promoteAll(): Promise<void> {
    for (;;) {
      const now = this.ctx.opts.now();
      const ids = await delayedIds(this.ctx.store, now, 500);
      if (ids.length === 0) return;
      await promoteRequests(this.ctx.store, ids, now);
    }
  }

  async getJobSchedulers(): Promise<Omit<AppJobScheduler, 'queueName'>[]> {
    return [];
  }

  async getJobSchedulersCount(): Promise<number> {
    return 0;
  }

  async getGlobalConcurrency(): Promise<number | null> {
    return null;
  }

  // Refused by the write policy before Bull Board gets here; refused again should it ever call them.
  clean(): Promise<void> {
    return refuse('clean requests (retention does)');
  }

  addJob(): Promise<QueueJob> {
    return refuse('take requests from Bull Board (the producer or the HTTP API enqueues)');
  }

  empty(): Promise<void> {
    return refuse('empty');
  }

  obliterate(): Promise<void> {
    return refuse('obliterate');
  }

  removeJobScheduler(): Promise<boolean> {
    return refuse('have schedulers');
  }

  updateJobScheduler(): Promise<JobSchedulerUpdateResult> {
    return refuse('have schedulers');
  }

  runJobSchedulerNow(): Promise<QueueJob | 'not-found'> {
    return refuse('have schedulers');
  }

  setGlobalConcurrency(): Promise<void> {
    return refuse('have a concurrency');
  }
}
