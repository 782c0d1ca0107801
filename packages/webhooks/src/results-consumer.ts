import { type Logger, QUEUES, type RequestRecord, type ResultJobData, redactError } from '@nightshift/shared';
import {
  awaitsRealtimeApply,
  EventOutbox,
  isCompacted,
  type RedisClient,
  resultsInJob,
  type Store,
} from '@nightshift/store';
import { DelayedError, type Job, type Queue, Worker } from 'bullmq';

/** Jobs handled at once: a job is a few reads and at most one script call. */
const CONCURRENCY = 4;
/** The consumer's BullMQ worker name (CLIENT LIST `…:w:webhooks-results`): told apart from result workers. */
const CONSUMER_NAME = 'webhooks-results';
/** How far the applier's clock may be from Redis's (see the outbox check in the consumer). */
const CLOCK_MARGIN_MS = 60_000;
/** A waiting `{results}` job this old with no worker on the queue is worth a warning. */
const UNCONSUMED_AFTER_MS = 10 * 60_000;

type Rec = Pick<RequestRecord, 'state' | 'delivery' | 'customId' | 'webhookPending' | 'completedAt'>;

/** What the consumer does with one result of job `jobId`. */
function fateOf(jobId: string, cid: string, rec: Rec | null): 'done' | 'compact' | 'wait' {
  // No record (gone after retention) or compacted (handed over): nothing left to do for it.
  if (!rec || isCompacted(rec)) return 'done';
  if (rec.state === 'succeeded' && rec.delivery === jobId)
    // With an event written, the dispatcher hands it over once the deliveries exist; without one
    // no endpoint wanted it, and the job is its only consumer.
    return rec.webhookPending === '1' ? 'wait' : 'compact';
  if (awaitsRealtimeApply(jobId, cid, rec.state)) return 'wait';
  // Another job names it (a re-stream, a duplicate batch, a repair): that job is the one.
  return 'done';
}

/**
 * The `{results}` consumer of a deployment whose services run no result worker
 * (`consumeResults`). It never builds a webhook: the dispatcher fans each request.succeeded event
 * out once and then compacts the record (delivered.lua). A job is complete once each of its
 * results is handed over: compacted, or another job's. Results no event was written for (no
 * endpoint subscribed) are compacted here, once no older event waits in the outbox. A job with
 * results still waiting is delayed (not an attempt) and looked at again. A completed job is
 * removed at once: its text is in the delivery jobs' bodies.
 */
export function startResultsConsumer(
  connection: RedisClient,
  prefix: string,
  store: Store,
  log: Logger,
  opts: { lockDurationMs: number; now: () => number },
): Worker<ResultJobData> {
  const outbox = new EventOutbox(store);
  const handle = async (job: Job<ResultJobData>, token?: string) => {
    const id = job.id ?? '';
    const results = resultsInJob(job.data);
    const recs = await store.records.peekMany(
      results.map((r) => r.customId),
      ['state', 'delivery', 'customId', 'webhookPending', 'completedAt'],
    );
    const candidates: { cid: string; done: number }[] = [];
    let waiting = 0;
    results.forEach((r, i) => {
      const rec = recs[i] ?? null;
      const fate = fateOf(id, r.customId, rec);
      if (fate === 'compact') candidates.push({ cid: r.customId, done: Number(rec?.completedAt) || 0 });
      else if (fate === 'wait') waiting++;
    });
    if (candidates.length) {
      // A success applied by a version before `whp` may still have its event in the outbox: compact
      // only what became final before the oldest event not handled yet (Redis's clock and the
      // applier's may differ: a margin), so its webhook still finds the text.
      const oldest = await outbox.oldestAt();
      const compact = candidates.filter((c) => oldest === undefined || c.done + CLOCK_MARGIN_MS < oldest);
      waiting += candidates.length - compact.length;
      if (compact.length)
        await store.outcomes.delivered(
          id,
          compact.map((c) => c.cid),
        );
    }
    if (waiting) {
      // The dispatcher usually hands the results over within a second of the job's add; a
      // backlog (no dispatcher for a while) is polled less often: a quarter of the job's age,
      // 0.5 s to 1 min.
      const age = opts.now() - job.timestamp;
      await job.moveToDelayed(opts.now() + Math.min(60_000, Math.max(500, age / 4)), token);
      throw new DelayedError();
    }
    // BullMQ reads the job's own removeOnComplete at completion: the job (and its text) goes in the
    // same call that completes it, even when the collector asked to keep it a day for webhooks (the
    // deliveries hold the text now).
    job.opts.removeOnComplete = true;
  };
  const worker = new Worker<ResultJobData>(QUEUES.results, handle, {
    connection,
    prefix,
    concurrency: CONCURRENCY,
    name: CONSUMER_NAME,
    lockDuration: opts.lockDurationMs,
    stalledInterval: Math.ceil(opts.lockDurationMs / 2),
    // A webhooks process killed mid-job leaves it stalled: taken again, as by the result worker
    // (BullMQ's default of 1 would fail a job left behind twice).
    maxStalledCount: 10,
  });
  worker.on('error', (err) => log.warn({ err: redactError(err) }, 'results consumer error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, err: redactError(err).message }, 'results job failed; will retry'),
  );
  return worker;
}

/**
 * A hint for the operator when `{results}` looks unconsumed or doubly consumed, from the queue's
 * workers (BullMQ's CLIENT LIST; null where the service refuses it: nothing known) and its oldest
 * waiting job; undefined when all is well.
 */
export async function resultsConsumerHint(
  results: Queue,
  consumeResults: boolean,
  now: number,
): Promise<string | undefined | null> {
  const workers = await results.getWorkers();
  if (workers.some((w) => !w.rawname)) return null; // CLIENT LIST refused: nothing known
  const others = workers.filter((w) => !String(w.rawname).endsWith(`:w:${CONSUMER_NAME}`));
  if (consumeResults) {
    return others.length
      ? `NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS is on while ${others.length} other worker(s) consume {results}: ` +
          'a result worker skips the results the webhooks role hands over; turn the setting off where a service runs createResultWorker'
      : undefined;
  }
  if (others.length) return undefined;
  const [oldest] = await results.getJobs(['wait'], 0, 0, true);
  if (!oldest || now - oldest.timestamp < UNCONSUMED_AFTER_MS) return undefined;
  const waiting = await results.getWaitingCount();
  return (
    `{results} has ${waiting} waiting job(s), the oldest ${Math.round((now - oldest.timestamp) / 60_000)} min old, ` +
    'and no worker consumes it: their text and full records stay in Redis. If no service runs createResultWorker ' +
    '(HTTP API and webhooks only), set NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS=true on the webhooks role'
  );
}

/**
 * The check the role runs at start and every 10 minutes: the hint, if any, is logged and shown on
 * the board as the `results-unconsumed` alert, cleared once it no longer holds. Where the workers
 * cannot be listed nothing is known and nothing changes.
 */
export async function reportResultsConsumer(
  store: Store,
  results: Queue,
  consumeResults: boolean,
  now: number,
  log: Logger,
): Promise<string | undefined> {
  const hint = await resultsConsumerHint(results, consumeResults, now);
  if (hint === null) return undefined;
  if (hint) {
    log.warn(hint);
    await store.alerts.raise({ code: 'results-unconsumed', message: hint }, now);
  } else await store.alerts.clear('results-unconsumed');
  return hint;
}
