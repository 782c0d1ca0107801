import { DEFAULT_PREFIX, type Env, type Logger } from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import type { Registry } from '@nightshift/telemetry';

/** Options of {@link startWebhooks}. */
export interface WebhooksOptions {
  /** A `'worker'`-purpose connection (BullMQ workers block); the caller owns it. */
  connection: RedisClient;
  /** @defaultValue `'nightshift'` */
  prefix?: string;
  /**
   * Delivery attempts per (event, endpoint) before the delivery fails (replayable).
   * @defaultValue 12
   */
  attempts?: number;
  /**
   * The first retry delay; each next one doubles, ±20 % jitter, at most 1 h.
   * @defaultValue 10_000
   */
  backoffMs?: number;
  /** Timeout of one attempt, connect to end of the answer. @defaultValue 10_000 */
  timeoutMs?: number;
  /**
   * An endpoint that has failed every attempt for this long is disabled (a 410 disables it at once).
   * @defaultValue 5 days
   */
  failureWindowMs?: number;
  /** UTF-8 bytes of result text in a request.succeeded event. @defaultValue 65_536 */
  maxTextBytes?: number;
  /** Deliver to loopback, private and link-local addresses. @defaultValue false */
  allowPrivate?: boolean;
  /** Deliveries in progress at once in this process. @defaultValue 16 */
  concurrency?: number;
  /**
   * Events another dispatcher read and did not finish for this long are taken over (it died).
   * @defaultValue 30_000
   */
  claimIdleMs?: number;
  /**
   * How long a request.succeeded event waits for its `{results}` job (a collector killed between
   * apply and job add has it added by its repair) before it goes out without the text.
   * @defaultValue 600_000
   */
  resultWaitMs?: number;
  /** BullMQ job lock of a delivery: a killed process's deliveries are retried after it. @defaultValue 30_000 */
  lockDurationMs?: number;
  /** Run the dispatcher (outbox → delivery jobs). @defaultValue true */
  dispatch?: boolean;
  /** Run the delivery worker. @defaultValue true */
  deliver?: boolean;
  /**
   * Also consume `{results}`, for a deployment without a result worker (`createResultWorker`) of
   * its own: the dispatcher compacts a succeeded request's record once its request.succeeded
   * deliveries are enqueued (they carry the body), and a `{results}` job is completed and removed
   * once none of its results waits for that. Every webhooks process of a deployment must agree.
   * Needs `dispatch`. A service's result worker would skip the results handed over this way.
   * @defaultValue false
   */
  consumeResults?: boolean;
  /**
   * A prom-client registry to register the role's metrics on (`nightshift_webhook_*`,
   * docs/operations.md).
   * @defaultValue undefined (nothing is measured)
   */
  metrics?: Registry;
  /** @defaultValue `createLogger('webhooks')` */
  logger?: Logger;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

export type ResolvedWebhooksOptions = Required<Omit<WebhooksOptions, 'logger' | 'metrics'>>;

export function resolveWebhooksOptions(o: WebhooksOptions): ResolvedWebhooksOptions {
  return {
    connection: o.connection,
    prefix: o.prefix ?? DEFAULT_PREFIX,
    attempts: o.attempts ?? 12,
    backoffMs: o.backoffMs ?? 10_000,
    timeoutMs: o.timeoutMs ?? 10_000,
    failureWindowMs: o.failureWindowMs ?? 5 * 86_400_000,
    maxTextBytes: o.maxTextBytes ?? 65_536,
    allowPrivate: o.allowPrivate ?? false,
    concurrency: o.concurrency ?? 16,
    claimIdleMs: o.claimIdleMs ?? 30_000,
    resultWaitMs: o.resultWaitMs ?? 600_000,
    lockDurationMs: o.lockDurationMs ?? 30_000,
    dispatch: o.dispatch ?? true,
    deliver: o.deliver ?? true,
    consumeResults: o.consumeResults ?? false,
    now: o.now ?? Date.now,
  };
}

/** The options `nightshift-webhooks` reads from the environment. */
export function webhooksOptionsFromEnv(env: Env): Omit<WebhooksOptions, 'connection'> {
  return {
    attempts: env.NIGHTSHIFT_WEBHOOK_ATTEMPTS,
    backoffMs: env.NIGHTSHIFT_WEBHOOK_BACKOFF_MS,
    timeoutMs: env.NIGHTSHIFT_WEBHOOK_TIMEOUT_MS,
    failureWindowMs: env.NIGHTSHIFT_WEBHOOK_FAILURE_WINDOW_MS,
    maxTextBytes: env.NIGHTSHIFT_WEBHOOK_MAX_TEXT_BYTES,
    allowPrivate: env.NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE,
    concurrency: env.NIGHTSHIFT_WEBHOOK_CONCURRENCY,
    consumeResults: env.NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS,
  };
}
