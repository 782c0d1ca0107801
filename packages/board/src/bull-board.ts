import { AsyncLocalStorage } from 'node:async_hooks';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { HookContext, JobStatus, QueueAdapterOptions } from '@bull-board/api/typings/app';
import { ExpressAdapter } from '@bull-board/express';
import { QUEUE_LABELS, type QueueRole } from '@nightshift/shared';
import { jobIdsIn, readJobsWithin } from '@nightshift/store';
import type { Job, JobType, Queue } from 'bullmq';
import express, { type Express } from 'express';
import { decideBullBoard, RETRY_QUEUES } from './bull-board-policy.js';
import { type BoardContext, QUEUE_ROLES } from './context.js';
import { LIST_DATA_BYTES, MAX_JOBS_PER_PAGE, truncateValue } from './limits.js';
import { REQUESTS_QUEUE, RequestsAdapter } from './requests-adapter.js';
import { type Actor, actorOf, audit, sameOriginWrites } from './security.js';

const QUEUE_DESCRIPTIONS: Record<QueueRole, string> = {
  flush: 'Batcher ticks and manual flushes (single-flight).',
  batches: 'One tracking job per Message Batch: batch id, counts, polls.',
  collect: 'Collector sweeps: alerts, orphan adoption, retention.',
  results:
    'Results for services: a batch’s results grouped per job (res-<batch id>-<hash>), a real-time answer alone (res-<custom_id>).',
  deadLetters:
    'Final failures with reason and attempt history; retry them from the requests queue (failed) or the overview.',
  webhooks:
    'One delivery per (event, endpoint): whd-<endpoint>-<event id>. Failed deliveries stay here; retry (replay) them here, on the overview or with nightshift webhooks replay.',
};

/**
 * Bull Board's BullMQ adapter whose list pages skip large job data (a dead letter carries its
 * request's params): without it, ten people watching 40 dead letters of 4 MB made the board load
 * 1.6 GB per refresh round. The job's own page still shows its data (truncated for the browser).
 */
class BoundedListAdapter extends BullMQAdapter {
  constructor(
    private readonly source: Queue,
    // BullMQAdapter hands its options to BaseAdapter, which also reads allowCompletedRetries.
    options: Partial<QueueAdapterOptions> & { allowCompletedRetries: boolean },
  ) {
    super(source, options);
  }

  override async getJobs(statuses: JobStatus[], start?: number, end?: number): Promise<Job[]> {
    const ids = await jobIdsIn(this.source, statuses as JobType[], start ?? 0, end ?? -1);
    const jobs = await readJobsWithin(this.source, ids, LIST_DATA_BYTES);
    return jobs.map(({ job, omittedDataBytes }) => {
      if (omittedDataBytes) {
        job.data = {
          note: `${omittedDataBytes} bytes of data, not loaded for the list: open the job to see it`,
        };
      }
      return job;
    });
  }
}

/** The states a per-job action needs (`everywhere`: on every queue, else on the requests queue only). */
const JOB_STATES_NEEDED: Record<string, { states: string[]; what: string; everywhere?: boolean }> = {
  '/api/queues/:queueName/:jobId/retry': {
    states: ['failed'],
    what: 'only failed jobs may be retried',
    everywhere: true,
  },
  '/api/queues/:queueName/:jobId/clean': {
    states: ['waiting', 'delayed'],
    what: 'only a queued request can be canceled',
  },
  '/api/queues/:queueName/:jobId/promote': {
    states: ['delayed'],
    what: 'only a request in backoff can be promoted',
  },
};

/** Who is asking, for the audit lines of Bull Board's API calls (its hooks see no Express request). */
const requestActor = new AsyncLocalStorage<Actor>();

/** Bull Board's `before` hook: our write policy, the page-size cap and one audit line per write. */
function beforeHook(ctx: BoardContext) {
  return async ({ method, route, request }: HookContext) => {
    const params = (request.params ?? {}) as Record<string, string>;
    const verdict = decideBullBoard(method, route, params, { redisDetails: ctx.opts.redisDetails });
    if (verdict.kind === 'read') {
      const query = request.query as Record<string, unknown>;
      const asked = Number(query.jobsPerPage);
      if (Number.isFinite(asked) && asked > MAX_JOBS_PER_PAGE) query.jobsPerPage = String(MAX_JOBS_PER_PAGE);
      return;
    }
    let refusal = verdict.kind === 'refused' ? verdict.reason : null;
    const needs = refusal ? undefined : JOB_STATES_NEEDED[route];
    if (needs && (params.queueName === REQUESTS_QUEUE || needs.everywhere)) {
      // Bull Board also retries completed jobs: a completed delivery would reach the service again.
      // On the requests queue each action has one state it means something in.
      const job = await request.queues.get(params.queueName!)?.getJob(params.jobId!);
      const state = job ? await job.getState() : 'missing';
      if (!needs.states.includes(state)) refusal = `${needs.what} (this one is ${state})`;
    }
    if (method.toLowerCase() === 'get') {
      return refusal ? { allow: false, status: 403 as const, message: refusal } : undefined;
    }
    audit(ctx.logger, requestActor.getStore() ?? { actor: 'unknown', client: 'unknown' }, {
      action: `bull-board: ${verdict.action}`,
      outcome: refusal ? 'refused' : 'allowed',
      ...(params.queueName ? { queue: params.queueName } : {}),
      ...(params.jobId || params.schedulerId ? { job: params.jobId ?? params.schedulerId } : {}),
      ...(refusal ? { reason: refusal } : {}),
    });
    return refusal
      ? { allow: false, status: 403 as const, message: `Refused by Nightshift: ${refusal}.` }
      : undefined;
  };
}

/**
 * Bull Board under /queues: every Nightshift queue, read-only when the board is; writes limited
 * per queue (bull-board-policy.ts) and audited; list pages bounded; Redis INFO and client lists
 * only with `redisDetails`.
 */
export function bullBoard(ctx: BoardContext): express.Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/queues');
  const adapters = QUEUE_ROLES.map((role) => {
    const adapter = new BoundedListAdapter(ctx.queues[role], {
      readOnlyMode: ctx.opts.readOnly,
      allowRetries: RETRY_QUEUES.has(role),
      allowCompletedRetries: false,
      displayName: QUEUE_LABELS[role],
      description: QUEUE_DESCRIPTIONS[role],
    });
    for (const field of ['data', 'returnValue', 'progress'] as const)
      adapter.setFormatter(field, truncateValue);
    return adapter;
  });
  createBullBoard({
    queues: [new RequestsAdapter(ctx), ...adapters],
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Nightshift',
        miscLinks: [{ text: 'Nightshift overview', url: '/' }],
        hideDocsLink: true,
        sortQueues: false,
        hideRedisDetails: !ctx.opts.redisDetails,
        showWorkers: ctx.opts.redisDetails,
        ...(ctx.opts.readOnly ? { environment: { label: 'read-only', color: '#445266' } } : {}),
      },
      handlerHooks: { before: beforeHook(ctx) },
    },
  });
  const sub = serverAdapter.getRouter() as Express;
  // The adapter is its own Express app: it would announce itself on every answer.
  sub.disable('x-powered-by');
  const router = express.Router();
  router.use((req, res, next) => {
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (ctx.opts.readOnly && !safe) {
      audit(ctx.logger, actorOf(res), {
        action: `bull-board: ${req.method} ${req.path}`,
        outcome: 'refused',
        reason: 'read-only board',
      });
      res.status(403).json({ error: 'The board is read-only: actions are disabled.' });
      return;
    }
    next();
  });
  router.use(sameOriginWrites);
  router.use((_req, res, next) => requestActor.run(actorOf(res), next));
  router.use(sub);
  return router;
}
