import { QUEUES, type QueueRole } from '@nightshift/shared';
import { REQUESTS_QUEUE } from './requests-adapter.js';

/** A Bull Board queue: one of our BullMQ queues, or the store's requests (requests-adapter.ts). */
export type BoardQueue = QueueRole | typeof REQUESTS_QUEUE;

/**
 * What Bull Board may change, queue by queue. Bull Board's API offers every BullMQ operation on
 * every queue; most of them would break Nightshift's contracts there: an added or edited
 * `{results}` job hands forged results to the service's handler, a removed `flush-tick` scheduler
 * stops batching while the batcher still beats, a changed global concurrency of `{flush}` undoes
 * single-flight flushes, and a cleaned `{dead-letters}` or `{results}` queue loses final outcomes.
 * So every write is refused unless this table allows it (default deny: a route a later Bull Board
 * adds is refused too). Reads are all allowed, except Redis INFO and each queue's client list,
 * which need `redisDetails`.
 */
type Rule = {
  /** What the audit line calls it (on the requests queue: `onRequests`, when given). */
  action: string;
  onRequests?: string;
  /** Queues it is allowed on; every other queue refuses it. */
  on: readonly BoardQueue[];
  /** A further condition on the route's parameters, with the reason it is refused otherwise. */
  when?: (params: Record<string, string>) => string | null;
};

const ALL: readonly BoardQueue[] = [REQUESTS_QUEUE, ...(Object.keys(QUEUES) as QueueRole[])];
/** Queues whose jobs are made by our schedulers (ticks): housekeeping and "run now" are harmless. */
const TICKS: readonly QueueRole[] = ['flush', 'collect'];
const onlyFailed = (p: Record<string, string>) =>
  p.queueStatus === 'failed' ? null : 'only failed jobs may be retried';
const finishedOnly = (p: Record<string, string>) =>
  p.queueStatus === 'completed' || p.queueStatus === 'failed' ? null : 'only finished jobs may be cleaned';

/**
 * Bull Board 9.10's write routes (method + route pattern, as its `handlerHooks` see them). A route
 * absent here is refused.
 */
const WRITES: Record<string, Rule> = {
  // Reversible emergency brakes, shown as paused in Bull Board (and as red liveness for
  // `{flush}` / `{collect}`).
  // On the requests queue, pause / resume pause batching: the `{flush}` queue (requests-adapter.ts).
  'put /api/queues/pause': { action: 'pause all queues', on: ALL },
  'put /api/queues/resume': { action: 'resume all queues', on: ALL },
  'put /api/queues/:queueName/pause': { action: 'pause queue', onRequests: 'pause batching', on: ALL },
  'put /api/queues/:queueName/resume': {
    action: 'resume queue',
    onRequests: 'resume batching',
    on: ALL,
  },
  // A failed delivery (the handler threw every attempt) or a failed tracking job runs again; the
  // record naming its delivery job and the guarded apply keep it exactly-once. A failed webhook
  // delivery is sent again with the same body and webhook-id: a replay. A completed result job or
  // delivery would deliver again, so only failed ones. A failed request is a dead letter: its
  // retry is the board's dead-letter retry (store.retryDead, the job removed).
  'put /api/queues/:queueName/retry/:queueStatus': {
    action: 'retry jobs',
    onRequests: 'retry dead requests',
    on: [REQUESTS_QUEUE, 'results', 'batches', 'webhooks'],
    when: onlyFailed,
  },
  'put /api/queues/:queueName/:jobId/retry': {
    action: 'retry job',
    onRequests: 'retry dead request',
    on: [REQUESTS_QUEUE, 'results', 'batches', 'webhooks'],
  },
  // Running a delayed job now: a poll, a tick, a waiting real-time answer or a webhook delivery
  // waiting out its backoff comes sooner; a request in retry backoff is ready now (promote.lua).
  'put /api/queues/:queueName/promote': {
    action: 'promote delayed jobs',
    onRequests: 'promote requests in backoff',
    on: [REQUESTS_QUEUE, 'flush', 'batches', 'collect', 'results', 'webhooks'],
  },
  'put /api/queues/:queueName/:jobId/promote': {
    action: 'promote job',
    onRequests: 'promote request',
    on: [REQUESTS_QUEUE, 'flush', 'batches', 'collect', 'results', 'webhooks'],
  },
  // Finished ticks are history only. (Completed deliveries are kept a day so that fanning an event
  // out again is a no-op, and failed ones until replayed: neither is cleaned from here.)
  'put /api/queues/:queueName/clean/:queueStatus': { action: 'clean jobs', on: TICKS, when: finishedOnly },
  // Removing a request is canceling it (the store's cancel: queued ones only, state `canceled`).
  'put /api/queues/:queueName/:jobId/clean': {
    action: 'remove job',
    onRequests: 'cancel request',
    on: [REQUESTS_QUEUE, ...TICKS],
  },
  // "Flush now" / "sweep now": single-flight guards make an extra run harmless.
  'put /api/queues/:queueName/job-schedulers/:schedulerId/run': { action: 'run scheduler now', on: TICKS },
};

/** What the audit line calls a refused route that has no rule. */
const REFUSED_NAMES: Record<string, string> = {
  'post /api/queues/:queueName/add': 'add job',
  'patch /api/queues/:queueName/:jobId/update-data': 'edit job data',
  'patch /api/queues/:queueName/:jobId/delay': 'change job delay',
  'patch /api/queues/:queueName/:jobId/priority': 'change job priority',
  'put /api/queues/:queueName/empty': 'empty queue',
  'put /api/queues/:queueName/obliterate': 'obliterate queue',
  'put /api/queues/:queueName/concurrency': 'set global concurrency',
  'put /api/queues/:queueName/rate-limit': 'set rate limit',
  'put /api/queues/:queueName/rate-limit/release': 'release rate limit',
  'put /api/queues/:queueName/job-schedulers/:schedulerId/remove': 'remove scheduler',
  'patch /api/queues/:queueName/job-schedulers/:schedulerId': 'change scheduler',
  'put /api/queues/:queueName/:jobId/remove-unprocessed-children': 'remove unprocessed children',
  'post /api/metrics/history/purge': 'purge metrics history',
};

/** Reads that show how Redis is run (version, OS, memory; clients and their addresses). */
const REDIS_DETAIL_READS = new Set(['get /api/redis/stats', 'get /api/queues/:queueName/workers']);

/** The Bull Board queue name (`{results}`, `requests`) → our role. */
const ROLE_OF = new Map<string, BoardQueue>([
  [REQUESTS_QUEUE, REQUESTS_QUEUE],
  ...Object.entries(QUEUES).map(([role, name]) => [name, role as QueueRole] as const),
]);

/** The decision on one Bull Board API call. */
export type Verdict =
  | { kind: 'read' }
  | { kind: 'allowed'; action: string }
  | { kind: 'refused'; action: string; reason: string };

/** Decides one Bull Board API call from its method, route pattern and parameters. */
export function decideBullBoard(
  method: string,
  route: string,
  params: Record<string, string>,
  opts: { redisDetails: boolean },
): Verdict {
  const key = `${method.toLowerCase()} ${route}`;
  if (method.toLowerCase() === 'get') {
    if (REDIS_DETAIL_READS.has(key) && !opts.redisDetails) {
      return {
        kind: 'refused',
        action: key,
        reason: 'Redis details are hidden (NIGHTSHIFT_BOARD_REDIS_DETAILS)',
      };
    }
    return { kind: 'read' };
  }
  const rule = WRITES[key];
  if (!rule) {
    return {
      kind: 'refused',
      action: REFUSED_NAMES[key] ?? key,
      reason: 'Nightshift does not allow this from the board',
    };
  }
  const action = (params.queueName === REQUESTS_QUEUE && rule.onRequests) || rule.action;
  if (params.queueName !== undefined) {
    const role = ROLE_OF.get(params.queueName);
    if (!role || !rule.on.includes(role)) {
      return { kind: 'refused', action, reason: `not allowed on ${params.queueName}` };
    }
  }
  const why = rule.when?.(params);
  return why ? { kind: 'refused', action, reason: why } : { kind: 'allowed', action };
}

/** The queues a rule allows retries on, for Bull Board's retry buttons. */
export const RETRY_QUEUES: ReadonlySet<BoardQueue> = new Set(
  WRITES['put /api/queues/:queueName/:jobId/retry']!.on,
);
