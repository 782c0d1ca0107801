import { hostname } from 'node:os';
import type Anthropic from '@anthropic-ai/sdk';
import {
  CIRCUIT_DEFAULTS,
  ConfigError,
  createLogger,
  DEFAULT_PREFIX,
  DEFAULT_PRICES,
  type Logger,
  type PriceTable,
} from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import type { Registry, RoleContext } from '@nightshift/telemetry';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Options of {@link startCollector}. Every duration is in milliseconds. */
export interface CollectorOptions {
  /** Redis connection made with `createRedis(settings, 'worker')` (BullMQ workers need `maxRetriesPerRequest: null`). */
  connection: RedisClient;
  /** Key and queue prefix. @defaultValue `'nightshift'` */
  prefix?: string;
  /** The Anthropic client (SDK 1.x); its own retries apply to each call. */
  client: Anthropic;
  /** Prices by model id (list prices, USD per MTok). @defaultValue `DEFAULT_PRICES` from shared */
  prices?: PriceTable;
  /** Poll interval of a batch in progress; doubles per hour of the batch's age. @defaultValue `60_000` */
  pollMs?: number;
  /** The longest poll interval. @defaultValue `600_000` (10 min) */
  maxPollMs?: number;
  /** Attempts per request before it is dead-lettered. @defaultValue `3` */
  maxAttempts?: number;
  /** Base of the backoff of a requeued request: `retryBackoffMs · 2^(attempt − 1)`. @defaultValue `60_000` */
  retryBackoffMs?: number;
  /** How long 404s for a batch we created are treated as API propagation delay. @defaultValue `600_000` */
  notFoundGraceMs?: number;
  /** Margin on top of the 24 h batch window when judging whether a deadline can still be met. @defaultValue `3_600_000` */
  deadlineSlackMs?: number;
  /** Days records, submissions and batch records are kept after their final time. @defaultValue `35` */
  retentionDays?: number;
  /** Delete each batch at the API once its results are applied. @defaultValue `false` */
  deleteAfterCollect?: boolean;
  /** List batches at the API and adopt ended ones whose custom_ids are ours but unknown. @defaultValue `false` */
  adoptOrphans?: boolean;
  /** Alert when no poll has succeeded for this long while batches are in flight. @defaultValue `900_000` */
  alertPollStaleMs?: number;
  /** Alert when an ended batch's results are still not applied after this long. @defaultValue `3_600_000` */
  alertUnappliedMs?: number;
  /** Alert when an uncollected batch is this many days from the API's 29-day archive. @defaultValue `3` */
  alertArchiveDays?: number;
  /** Batches polled or applied at once by this process. @defaultValue `2` */
  concurrency?: number;
  /** Result lines per apply round trip (one peek, one addBulk, one apply script). @defaultValue `500` */
  chunkSize?: number;
  /**
   * Results of a batch per `{results}` job. One BullMQ job per result costs more than everything
   * else the collector does for it; a consumer still handles (and retries) results one by one.
   * @defaultValue `100`
   */
  resultsPerJob?: number;
  /** Log one structured `usage` line per succeeded result. @defaultValue `true` */
  logUsage?: boolean;
  /** Start the `{batches}` and `{collect}` workers and the sweep scheduler; false: only `sweepNow()`. @defaultValue `true` */
  runWorker?: boolean;
  /** Name of this process in heartbeats. @defaultValue `<host>-<pid>-<random>` */
  instance?: string;
  /** Clock for every business decision (ages, deadlines, alerts, ledger day). @defaultValue `Date.now` */
  now?: () => number;
  /** Structured logger. @defaultValue `createLogger('collector')` */
  logger?: Logger;
  /**
   * After an account or billing refusal (in results, on retrieve or on a real-time call): how long
   * submissions stay stopped before the batcher's probe. @defaultValue `1_800_000`
   */
  circuitCooldownMs?: number;
  /** The longest wait between two probes of a billing circuit (it doubles per refused probe). @defaultValue `86_400_000` */
  circuitMaxCooldownMs?: number;
  /** Timeout of one retrieve, list, delete call and of the results request's headers. @defaultValue `60_000` */
  requestTimeoutMs?: number;
  /** Timeout of one real-time `messages.create` call. @defaultValue `600_000` */
  realtimeTimeoutMs?: number;
  /** First delay after a transient failure (5xx, connection, stream cut); doubles, capped at maxPollMs. @defaultValue `5_000` */
  transientRetryMs?: number;
  /**
   * BullMQ lock of a tracking job, renewed every half of it; stalled jobs are looked for every half
   * lock, so a killed collector's batch is picked up between half of it and 1.5× it after the kill.
   * A collector whose event loop stalls for half of it loses the batch to another one (which is
   * safe: the apply is exactly-once). @defaultValue `30_000`
   */
  lockDurationMs?: number;
  /** A real-time call older than this is presumed crashed and is retried by the sweep. @defaultValue `900_000` */
  realtimeStaleMs?: number;
  /** Orphan adoption ignores batches younger than this (a submit may still be committing them). @defaultValue `1_800_000` */
  orphanMinAgeMs?: number;
  /**
   * A prom-client registry to register the collector's metrics on (`nightshift_collector_*`: polls,
   * batch time to end, results applied by outcome, apply rate, enqueue-to-result latency; see
   * docs/operations.md). `nightshift-collector` passes its own when `NIGHTSHIFT_METRICS_PORT` is set.
   * @defaultValue undefined (nothing is measured)
   */
  metrics?: Registry;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<CollectorOptions, 'logger' | 'metrics'>> & {
  logger: Logger;
  metrics: Registry | undefined;
};

const POSITIVE = [
  'pollMs',
  'maxPollMs',
  'maxAttempts',
  'retryBackoffMs',
  'notFoundGraceMs',
  'deadlineSlackMs',
  'retentionDays',
  'alertPollStaleMs',
  'alertUnappliedMs',
  'alertArchiveDays',
  'concurrency',
  'chunkSize',
  'resultsPerJob',
  'circuitCooldownMs',
  'circuitMaxCooldownMs',
  'requestTimeoutMs',
  'realtimeTimeoutMs',
  'transientRetryMs',
  'lockDurationMs',
  'realtimeStaleMs',
] as const;

/** Fills in defaults and validates; throws a ConfigError (code CONFIG) naming every bad option. */
export function resolveOptions(opts: CollectorOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    prefix: DEFAULT_PREFIX,
    prices: DEFAULT_PRICES,
    pollMs: MINUTE,
    maxPollMs: 10 * MINUTE,
    maxAttempts: 3,
    retryBackoffMs: MINUTE,
    notFoundGraceMs: 10 * MINUTE,
    deadlineSlackMs: HOUR,
    retentionDays: 35,
    deleteAfterCollect: false,
    adoptOrphans: false,
    alertPollStaleMs: 15 * MINUTE,
    alertUnappliedMs: HOUR,
    alertArchiveDays: 3,
    concurrency: 2,
    chunkSize: 500,
    resultsPerJob: 100,
    logUsage: true,
    runWorker: true,
    instance: `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`,
    now: Date.now,
    circuitCooldownMs: CIRCUIT_DEFAULTS.cooldownMs,
    circuitMaxCooldownMs: CIRCUIT_DEFAULTS.maxCooldownMs,
    requestTimeoutMs: MINUTE,
    realtimeTimeoutMs: 10 * MINUTE,
    transientRetryMs: 5_000,
    lockDurationMs: 30_000,
    realtimeStaleMs: 15 * MINUTE,
    orphanMinAgeMs: 30 * MINUTE,
    ...stripUndefined(opts),
    connection: opts.connection,
    client: opts.client,
    logger: opts.logger ?? createLogger('collector'),
    metrics: opts.metrics,
  };
  const issues: { field: string; message: string }[] = [];
  if (!opts.connection) issues.push({ field: 'connection', message: 'a Redis connection is required' });
  if (!opts.client) issues.push({ field: 'client', message: 'an Anthropic client is required' });
  for (const name of POSITIVE) {
    const v = r[name];
    if (!Number.isFinite(v) || v <= 0) {
      issues.push({ field: name, message: `must be a positive number (got ${String(v)})` });
    }
  }
  if (r.chunkSize > 10_000) issues.push({ field: 'chunkSize', message: 'must be at most 10,000' });
  if (!Number.isInteger(r.resultsPerJob) || r.resultsPerJob > 1_000) {
    issues.push({ field: 'resultsPerJob', message: 'must be a whole number from 1 to 1,000' });
  }
  if (r.maxPollMs < r.pollMs) issues.push({ field: 'maxPollMs', message: 'must be at least pollMs' });
  if (!Number.isFinite(r.orphanMinAgeMs) || r.orphanMinAgeMs < 0) {
    issues.push({ field: 'orphanMinAgeMs', message: 'must be zero or more' });
  }
  if (issues.length) {
    const list = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid collector options: ${list}.`);
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The collector's options from validated configuration: what `nightshift-collector` runs with. */
export function collectorOptionsFromConfig(
  config: import('@nightshift/shared').Config,
  ctx: Omit<RoleContext, 'config'>,
): CollectorOptions {
  const env = config.env;
  return {
    ...ctx,
    prefix: config.prefix,
    prices: config.prices,
    pollMs: env.NIGHTSHIFT_POLL_MS,
    maxPollMs: env.NIGHTSHIFT_MAX_POLL_MS,
    maxAttempts: env.NIGHTSHIFT_MAX_ATTEMPTS,
    retryBackoffMs: env.NIGHTSHIFT_RETRY_BACKOFF_MS,
    notFoundGraceMs: env.NIGHTSHIFT_NOT_FOUND_GRACE_MS,
    deadlineSlackMs: env.NIGHTSHIFT_DEADLINE_SLACK_MS,
    retentionDays: env.NIGHTSHIFT_RESULT_RETENTION_DAYS,
    deleteAfterCollect: env.NIGHTSHIFT_DELETE_AFTER_COLLECT,
    adoptOrphans: env.NIGHTSHIFT_ADOPT_ORPHANS,
    alertPollStaleMs: env.NIGHTSHIFT_ALERT_POLL_STALE_MS,
    alertUnappliedMs: env.NIGHTSHIFT_ALERT_UNAPPLIED_MS,
    alertArchiveDays: env.NIGHTSHIFT_ALERT_ARCHIVE_DAYS,
    circuitCooldownMs: env.NIGHTSHIFT_CIRCUIT_COOLDOWN_MS,
    circuitMaxCooldownMs: env.NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS,
    resultsPerJob: env.NIGHTSHIFT_RESULTS_PER_JOB,
    lockDurationMs: env.NIGHTSHIFT_COLLECTOR_LOCK_MS,
  };
}
