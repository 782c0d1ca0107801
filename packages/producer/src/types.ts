import type Anthropic from '@anthropic-ai/sdk';
import type {
  Logger,
  MessageParams,
  PriceTable,
  RequestState,
  RequestStatus,
  ResultJobData,
  ResultPayload,
} from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import type { Registry } from '@nightshift/telemetry';
import type { Job } from 'bullmq';

/** What to do with a request whose deadline the batch path (24 h + slack) cannot meet. */
export type RealtimeChoice = 'never' | 'fallback';

/**
 * Where a `redisUrl` leads when it is not a single Redis: a Cluster or Sentinels (options of
 * {@link ProducerOptions} and {@link ResultWorkerOptions}; unused with a `connection`).
 */
export interface RedisTopologyOptions {
  /**
   * Seed nodes `host:port` of a Redis Cluster, as an array or one comma-separated string (pass
   * `process.env.NIGHTSHIFT_REDIS_CLUSTER_NODES` as it is). Goes with `redisUrl`, whose password
   * and TLS then apply to every node; empty or unset: `redisUrl` is a single Redis.
   * @defaultValue undefined (no cluster)
   */
  clusterNodes?: string | string[];
  /**
   * Redis Sentinels `host:port`, as an array or one comma-separated string (pass
   * `process.env.NIGHTSHIFT_REDIS_SENTINELS` as it is). Goes with `redisUrl`, whose password and TLS
   * apply to the master the Sentinels name; the client follows that master through a failover.
   * @defaultValue undefined (no Sentinel)
   */
  sentinels?: string | string[];
  /** The master group name the Sentinels monitor. @defaultValue 'mymaster' */
  sentinelMaster?: string;
  /** The Sentinels' own password, if they want one (never logged). */
  sentinelPassword?: string;
}

/** Options of {@link createProducer}. Give either `connection` or `redisUrl`. */
export interface ProducerOptions extends RedisTopologyOptions {
  /** An ioredis client (or Cluster) the caller owns; the producer never closes it. */
  connection?: RedisClient;
  /**
   * A Redis URL (`redis://` or `rediss://` for TLS, password in it); the producer then owns its
   * client and closes it in `close()`.
   */
  redisUrl?: string;
  /**
   * Prefix of every Redis key and queue; must match the batcher's and collector's.
   * @defaultValue 'nightshift'
   */
  prefix?: string;
  /**
   * The SDK client for the real-time path.
   * @defaultValue `new Anthropic()` (reads `ANTHROPIC_API_KEY` / `ANTHROPIC_BASE_URL`), made on first use
   */
  client?: Anthropic;
  /**
   * Safety margin on top of the 24 h batch window: a deadline earlier than now + 24 h + slack is
   * refused (or sent real-time, see `realtime`).
   * @defaultValue 3_600_000 (1 h)
   */
  deadlineSlackMs?: number;
  /**
   * The largest serialized request (`{"custom_id":…,"params":…}`, UTF-8 bytes) accepted; a request that
   * could never fit in a batch is refused. Keep it equal to the batcher's `NIGHTSHIFT_MAX_BYTES`.
   * @defaultValue 200_000_000
   */
  maxRequestBytes?: number;
  /**
   * Default for requests that do not say: `'fallback'` sends a too-soon request through the Messages
   * API at standard price; `'never'` refuses it with `DeadlineTooSoonError`.
   * @defaultValue 'never'
   */
  realtime?: RealtimeChoice;
  /**
   * Chooses the model of each request at enqueue (the same routing your real-time calls use). Its
   * answer replaces `params.model` before validation and hashing.
   * @defaultValue none (params.model is used as given)
   */
  routeModel?: (req: EnqueueRequest) => string;
  /**
   * Price table for the cost of real-time results.
   * @defaultValue `DEFAULT_PRICES` from `@nightshift/shared`
   */
  prices?: PriceTable;
  /**
   * At most this many real-time calls run at once (per producer).
   * @defaultValue 8
   */
  realtimeConcurrency?: number;
  /**
   * The clock, ms since the epoch (tests inject one).
   * @defaultValue Date.now
   */
  now?: () => number;
  /**
   * A pino logger.
   * @defaultValue `createLogger('producer')`
   */
  logger?: Logger;
}

/** One request to enqueue. */
export interface EnqueueRequest {
  /** The Messages params, exactly as for `client.messages.create` (non-streaming). */
  params: MessageParams;
  /** A tag for cost accounting, 1–64 of `A-Z a-z 0-9 _ . -` (e.g. `classify-docs`). Required. */
  feature: string;
  /** An explicit custom_id, 1–64 of `A-Z a-z 0-9 _ -`. Give exactly one of `customId` and `key`. */
  customId?: string;
  /**
   * A stable source key (e.g. a document id); the custom_id is `deriveCustomId(feature, key)`.
   * Give exactly one of `customId` and `key`.
   */
  key?: string;
  /** When the result is needed by: ms since the epoch, a Date or an ISO-8601 string. */
  deadline?: Date | number | string;
  /** Small JSON (≤ 16 KiB serialized) returned with the result. */
  metadata?: unknown;
  /**
   * Tenant / workspace tag, 1–64 of `A-Z a-z 0-9 _ . -`; different partitions never share a batch.
   * @defaultValue 'default'
   */
  partition?: string;
  /**
   * Overrides the producer's `realtime` default for this request.
   * @defaultValue the producer's `realtime` option
   */
  realtime?: RealtimeChoice;
  /**
   * Webhook endpoints, by the name an operator registered them under (`nightshift webhooks add`),
   * to notify of this request's events; 1–5 names. Never a URL. An endpoint registered with
   * `--request-only` hears only of requests that name it.
   * @defaultValue none (endpoints whose filters match are notified anyway)
   */
  notify?: string[];
}

/** What `cancel` answers. */
export interface CancelResult {
  customId: string;
  /** True when the request is canceled now (or already was). */
  canceled: boolean;
  /** `canceled`, or the state that kept it from being canceled (`claimed`, `succeeded`, …, `unknown`). */
  state: string;
}

/** What happened to one request of an enqueue call. */
export type EnqueueOutcome =
  /** Written to the batch path. */
  | 'queued'
  /** The same custom_id with the same params was already known: nothing changed. */
  | 'exists'
  /** A still-queued request with the same custom_id was replaced (`{ replace: true }`). */
  | 'replaced'
  /** Sent through the Messages API at once (deadline too soon, real-time fallback chosen). */
  | 'realtime';

/** The result of one request of `enqueueMany`: outcome and the record's coarse state. */
export interface BulkEnqueueResult {
  customId: string;
  outcome: EnqueueOutcome;
  /**
   * The record's state after the call (`claimed` covers "submitting" and "in batch"; call
   * `getStatus` for the detail). For a real-time request: `succeeded` or `dead`.
   */
  state: RequestState;
}

/** The result of `enqueue`: outcome and the full status. */
export interface EnqueueResult extends BulkEnqueueResult {
  status: RequestStatus;
}

/** Options of one enqueue call. */
export interface EnqueueOptions {
  /**
   * Replace a request with the same custom_id and different params, if it is still only queued.
   * @defaultValue false (a different-params request is a `ConflictError`)
   */
  replace?: boolean;
}

/** The producer: what a service uses to send work to the batch path. */
export interface Producer {
  /** Validates and enqueues one request (see the README for outcomes and errors). */
  enqueue(req: EnqueueRequest, opts?: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Validates every request, then enqueues all of them or none: one invalid item, a conflict or a
   * too-soon deadline anywhere means nothing is written. Results come back in input order and carry
   * outcome and coarse state only (no per-item status read, for speed). Safe to call again with the
   * same input after a failure: what was written is recognised, the rest is completed.
   */
  enqueueMany(reqs: EnqueueRequest[], opts?: EnqueueOptions): Promise<BulkEnqueueResult[]>;
  /** Where a request is: queued, retrying, submitting, in_batch, realtime, succeeded, dead, canceled or unknown. */
  getStatus(customId: string): Promise<RequestStatus>;
  /**
   * Cancels a request that is still only queued (not yet claimed into a batch): it becomes final,
   * state `canceled`. A request already submitted or final is left as it is (`canceled: false`).
   * Enqueueing a canceled custom_id again answers `exists`; `{ replace: true }` re-opens it.
   */
  cancel(customId: string): Promise<CancelResult>;
  /** The custom_id a `{ feature, key }` request gets (`deriveCustomId`). */
  customIdFor(feature: string, key: string): string;
  /** Waits for real-time calls in progress, then releases queues and an owned connection. Idempotent. */
  close(): Promise<void>;
}

/** What a result handler receives: the collector's payload plus the message's text. */
export type ResultEvent = ResultPayload & {
  /** The text blocks of `message.content`, joined. */
  text: string;
};

/** Options of {@link createResultWorker}. Give either `connection` or `redisUrl`. */
export interface ResultWorkerOptions extends RedisTopologyOptions {
  /** An ioredis client the caller owns; the worker uses its own duplicate of it. */
  connection?: RedisClient;
  /** A Redis URL (`redis://` or `rediss://`); the worker opens (and closes) its own connection. */
  redisUrl?: string;
  /**
   * Key prefix; must match the producer's and collector's.
   * @defaultValue 'nightshift'
   */
  prefix?: string;
  /**
   * Results handled at once (across the jobs being worked on); also the jobs worked on at once.
   * @defaultValue 1
   */
  concurrency?: number;
  /**
   * How far a job's record of handled results (its progress in Redis) may fall behind the handler.
   * A result is handed to the handler only while at most this many handled results of its job are
   * unrecorded, so a worker killed mid-job hands out again, per job, at most `maxUnrecorded`
   * results plus the job's handler calls in progress at the kill (at most `concurrency`). 0 records
   * every handled result before the next is handed out; `Infinity` never waits (a kill may then
   * repeat a whole job). What each costs: BENCHMARKS.md, "Result consumer".
   * @defaultValue 10
   */
  maxUnrecorded?: number;
  /**
   * BullMQ lock of a job being worked on, renewed every half of it while the worker lives. A job
   * whose worker was killed goes to another worker (or the same one restarted) between half of it
   * and 1.5× it after the kill (stalled jobs are looked for every half lock). Shorter: quicker
   * recovery; but a handler that blocks the event loop for more than half of it loses the lock, and
   * the job is handed out a second time while the first worker still runs it.
   * @defaultValue 30_000
   */
  lockDurationMs?: number;
  /**
   * Called once per result. Throwing (or rejecting) makes BullMQ retry the result's job with backoff
   * (attempts and backoff from the results queue's defaults); the retry calls the handler again only
   * for that job's results that have not been handled yet. A result is never dropped. `job` is the
   * `{results}` job carrying the result (a batch's results travel up to `resultsPerJob` to a job).
   */
  handler: (result: ResultEvent, job: Job<ResultJobData>) => Promise<void> | void;
  /**
   * A pino logger.
   * @defaultValue `createLogger('result-worker')`
   */
  logger?: Logger;
  /**
   * A prom-client registry (the service's own) to register the worker's metrics on:
   * `nightshift_result_worker_results_total{feature,outcome}`, the handler's duration and the
   * enqueue-to-delivery latency per feature (docs/operations.md). Several workers may share one.
   * @defaultValue undefined (nothing is measured)
   */
  metrics?: Registry;
}

/** A running result consumer. */
export interface ResultWorker {
  /** The BullMQ worker (listen to its `failed` / `completed` events if useful). */
  worker: import('bullmq').Worker<ResultJobData>;
  /** Stops taking results, waits for handlers in progress, closes its connection. Idempotent. */
  close(): Promise<void>;
}
