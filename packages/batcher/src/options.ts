import { hostname } from 'node:os';
import type Anthropic from '@anthropic-ai/sdk';
import {
  API_MAX_BYTES,
  API_MAX_REQUESTS,
  type Budget,
  CIRCUIT_DEFAULTS,
  ConfigError,
  createLogger,
  DEFAULT_PREFIX,
  type Logger,
} from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import type { Registry, RoleContext } from '@nightshift/telemetry';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

// The API's caps per batch; the batcher's package exports them as it always did.
export { API_MAX_BYTES, API_MAX_REQUESTS };

/** Options of {@link startBatcher}. Every duration is in milliseconds. */
export interface BatcherOptions {
  /**
   * A worker-purpose Redis client (`createRedis(settings, 'worker')`: maxRetriesPerRequest null).
   * Shared with BullMQ; the batcher never closes it.
   */
  connection: RedisClient;
  /**
   * Key prefix of every Redis key and queue.
   * @defaultValue 'nightshift'
   */
  prefix?: string;
  /** The Anthropic SDK client (or one pointed at the emulator). Its own retries are not used for create. */
  client: Anthropic;
  /**
   * How often the `{flush}` scheduler ticks (each tick decides whether to flush).
   * @defaultValue 60_000
   */
  tickMs?: number;
  /**
   * Flush a partition once this many requests wait; also the most requests per batch (hard cap 100,000).
   * @defaultValue 100_000
   */
  maxRequests?: number;
  /**
   * Flush a partition once this many serialized bytes wait; also the most body bytes per batch
   * (at most 256 MB, the API limit).
   * @defaultValue 200_000_000
   */
  maxBytes?: number;
  /**
   * Do not flush a partition with fewer requests unless the oldest request's wait, a deadline or a
   * manual flush forces it (the size and bytes triggers respect it).
   * @defaultValue 1
   */
  minRequests?: number;
  /**
   * Flush a partition once its oldest ready request has waited this long.
   * @defaultValue 3_600_000 (1 h)
   */
  maxWaitMs?: number;
  /**
   * Margin on top of the 24 h batch window: a request with a deadline is submitted while
   * `deadline > now + 24 h + slack + tickMs` still holds.
   * @defaultValue 3_600_000 (1 h)
   */
  deadlineSlackMs?: number;
  /**
   * Timeout of one `batches.create` call; a create that times out is ambiguous and reconciled.
   * @defaultValue 120_000
   */
  createTimeoutMs?: number;
  /**
   * How long a submission may stay unresolved before recovery treats its flush as dead. Must be
   * longer than `createTimeoutMs`.
   * @defaultValue 600_000 (10 min)
   */
  submissionLeaseMs?: number;
  /**
   * After the API refuses the account (or the call) or billing, how long submissions stay stopped
   * before one probe flush; a billing circuit doubles it after each refused probe.
   * @defaultValue 1_800_000 (30 min)
   */
  circuitCooldownMs?: number;
  /**
   * The longest wait between two probes of a billing / spend-limit circuit.
   * @defaultValue 86_400_000 (24 h)
   */
  circuitMaxCooldownMs?: number;
  /**
   * First wait after a create failed with 429, 5xx or a connection error; doubles per consecutive
   * failure up to `maxCreateBackoffMs`. A longer `retry-after` wins.
   * @defaultValue 30_000
   */
  createBackoffMs?: number;
  /**
   * The longest wait between failed creates.
   * @defaultValue 1_800_000 (30 min)
   */
  maxCreateBackoffMs?: number;
  /**
   * Most requests in flight at the API at once (batches not yet seen ended, and creates that may
   * have gone through), across every batcher of this prefix: the workspace's processing-queue cap
   * (100,000 at tier 1; see the API's rate limits). A flush submits only what fits; a short room
   * gives a backlog no less than a tenth of this (at most `maxRequests`), partitions taking turns
   * (ARCHITECTURE.md "Admission"). 0: no cap.
   * @defaultValue 100_000
   */
  maxInFlightRequests?: number;
  /**
   * Spend budgets to write into the store at start-up (NIGHTSHIFT_BUDGETS_FILE): budgets set from
   * a file before and absent now are removed; those set by `nightshift budget set` are kept.
   * Undefined: the store's budgets are left as they are.
   * @defaultValue undefined
   */
  budgets?: Budget[];
  /**
   * Requests per claim Lua call (bounds how long one call blocks Redis).
   * @defaultValue 2_000
   */
  claimChunk?: number;
  /**
   * Run a `{flush}` worker in this process (with start-up recovery and a heartbeat). `false`: only
   * make sure the scheduler exists and offer `flushNow`, which then waits for another process's
   * worker (the CLI).
   * @defaultValue true
   */
  runWorker?: boolean;
  /**
   * How often the heartbeat is written.
   * @defaultValue 5_000
   */
  heartbeatMs?: number;
  /**
   * Lease of the Redis flush lock (renewed every third of it while a flush runs), and of the
   * `{flush}` job's BullMQ lock: the flush of a batcher killed mid-way is taken over by another
   * process after one to two leases.
   * @defaultValue 30_000
   */
  flushLockMs?: number;
  /**
   * Name of this process in heartbeats, submission owners and logs.
   * @defaultValue `<hostname>-<pid>`
   */
  instance?: string;
  /**
   * Clock (ms). Tests inject one; it must agree with the API's clock to within a minute, because
   * reconciliation matches batches by their `created_at`.
   * @defaultValue Date.now
   */
  now?: () => number;
  /**
   * Structured logger.
   * @defaultValue createLogger('batcher')
   */
  logger?: Logger;
  /**
   * A prom-client registry to register the batcher's metrics on (`nightshift_batcher_*`: flushes,
   * create latency and outcomes, batches and requests submitted; see docs/operations.md).
   * `nightshift-batcher` passes its own when `NIGHTSHIFT_METRICS_PORT` is set.
   * @defaultValue undefined (nothing is measured)
   */
  metrics?: Registry;
  /** TEST ONLY: crash-injection points in the submit path. Never set in production. */
  testOnlyHooks?: TestOnlyHooks;
}

/**
 * TEST ONLY. Crash-injection points: a hook may throw to simulate the process dying at that line
 * of the submit path (nothing after it runs; Redis holds what a kill -9 would leave).
 */
export interface TestOnlyHooks {
  /** After the submission is opened and claimed, before state 'creating'. */
  afterClaim?: (subId: string) => void | Promise<void>;
  /** After `batches.create` answered, before commit. */
  afterCreate?: (subId: string, batchId: string) => void | Promise<void>;
  /** After commit, before the `{batches}` tracking job is added. */
  afterCommit?: (subId: string, batchId: string) => void | Promise<void>;
}

/** Options after defaults and validation. */
export type ResolvedOptions = Required<
  Omit<BatcherOptions, 'logger' | 'testOnlyHooks' | 'metrics' | 'budgets'>
> & {
  budgets: Budget[] | undefined;
  logger: Logger;
  testOnlyHooks: TestOnlyHooks;
  metrics: Registry | undefined;
};

/** Applies defaults and validates; throws a ConfigError naming every bad option. */
export function resolveOptions(o: BatcherOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    connection: o.connection,
    prefix: o.prefix ?? DEFAULT_PREFIX,
    client: o.client,
    tickMs: o.tickMs ?? MINUTE,
    maxRequests: o.maxRequests ?? API_MAX_REQUESTS,
    maxBytes: o.maxBytes ?? 200_000_000,
    minRequests: o.minRequests ?? 1,
    maxWaitMs: o.maxWaitMs ?? HOUR,
    deadlineSlackMs: o.deadlineSlackMs ?? HOUR,
    createTimeoutMs: o.createTimeoutMs ?? 120_000,
    submissionLeaseMs: o.submissionLeaseMs ?? 10 * MINUTE,
    circuitCooldownMs: o.circuitCooldownMs ?? CIRCUIT_DEFAULTS.cooldownMs,
    circuitMaxCooldownMs: o.circuitMaxCooldownMs ?? CIRCUIT_DEFAULTS.maxCooldownMs,
    createBackoffMs: o.createBackoffMs ?? 30_000,
    maxCreateBackoffMs: o.maxCreateBackoffMs ?? 30 * MINUTE,
    maxInFlightRequests: o.maxInFlightRequests ?? API_MAX_REQUESTS,
    budgets: o.budgets,
    claimChunk: o.claimChunk ?? 2_000,
    runWorker: o.runWorker ?? true,
    heartbeatMs: o.heartbeatMs ?? 5_000,
    flushLockMs: o.flushLockMs ?? 30_000,
    instance: o.instance ?? `${hostname()}-${process.pid}`,
    now: o.now ?? Date.now,
    logger: o.logger ?? createLogger('batcher'),
    testOnlyHooks: o.testOnlyHooks ?? {},
    metrics: o.metrics,
  };
  const issues: string[] = [];
  const need = (ok: boolean, field: string, message: string) => {
    if (!ok) issues.push(`${field} ${message}`);
  };
  const positiveInt = (v: number) => Number.isInteger(v) && v >= 1;
  need(!!r.connection, 'connection', 'is required: a worker-purpose Redis client');
  need(!!r.client, 'client', 'is required: an Anthropic SDK client');
  for (const f of [
    'tickMs',
    'maxWaitMs',
    'createTimeoutMs',
    'submissionLeaseMs',
    'circuitCooldownMs',
    'circuitMaxCooldownMs',
    'createBackoffMs',
    'maxCreateBackoffMs',
    'claimChunk',
    'heartbeatMs',
    'flushLockMs',
    'minRequests',
  ] as const) {
    need(positiveInt(r[f]), f, `must be a positive integer (got ${r[f]})`);
  }
  need(Number.isInteger(r.deadlineSlackMs) && r.deadlineSlackMs >= 0, 'deadlineSlackMs', 'must be ≥ 0');
  need(
    Number.isInteger(r.maxInFlightRequests) && r.maxInFlightRequests >= 0,
    'maxInFlightRequests',
    `must be an integer ≥ 0, 0 for no cap (got ${r.maxInFlightRequests})`,
  );
  need(
    positiveInt(r.maxRequests) && r.maxRequests <= API_MAX_REQUESTS,
    'maxRequests',
    `must be an integer in 1..${API_MAX_REQUESTS} (the API's limit per batch)`,
  );
  need(
    positiveInt(r.maxBytes) && r.maxBytes <= API_MAX_BYTES && r.maxBytes > 15,
    'maxBytes',
    `must be an integer in 16..${API_MAX_BYTES} (the API's 256 MB limit)`,
  );
  need(r.minRequests <= r.maxRequests, 'minRequests', 'must not exceed maxRequests');
  need(
    r.circuitMaxCooldownMs >= r.circuitCooldownMs,
    'circuitMaxCooldownMs',
    'must be at least circuitCooldownMs',
  );
  need(
    r.submissionLeaseMs > r.createTimeoutMs,
    'submissionLeaseMs',
    'must be longer than createTimeoutMs, or recovery could reconcile a create still in progress',
  );
  if (issues.length) throw new ConfigError(`Invalid batcher options:\n  ${issues.join('\n  ')}`);
  return r;
}

/** The batcher's options from validated configuration: what `nightshift-batcher` runs with. */
export function batcherOptionsFromConfig(
  config: import('@nightshift/shared').Config,
  ctx: Omit<RoleContext, 'config'>,
): BatcherOptions {
  const env = config.env;
  return {
    ...ctx,
    prefix: config.prefix,
    tickMs: env.NIGHTSHIFT_TICK_MS,
    maxRequests: env.NIGHTSHIFT_MAX_REQUESTS,
    maxBytes: env.NIGHTSHIFT_MAX_BYTES,
    minRequests: env.NIGHTSHIFT_MIN_REQUESTS,
    maxWaitMs: env.NIGHTSHIFT_MAX_WAIT_MS,
    deadlineSlackMs: env.NIGHTSHIFT_DEADLINE_SLACK_MS,
    createTimeoutMs: env.NIGHTSHIFT_CREATE_TIMEOUT_MS,
    submissionLeaseMs: env.NIGHTSHIFT_SUBMISSION_LEASE_MS,
    circuitCooldownMs: env.NIGHTSHIFT_CIRCUIT_COOLDOWN_MS,
    circuitMaxCooldownMs: env.NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS,
    flushLockMs: env.NIGHTSHIFT_FLUSH_LOCK_MS,
    createBackoffMs: env.NIGHTSHIFT_CREATE_BACKOFF_MS,
    maxCreateBackoffMs: env.NIGHTSHIFT_MAX_CREATE_BACKOFF_MS,
    maxInFlightRequests: env.NIGHTSHIFT_MAX_IN_FLIGHT_REQUESTS,
    ...(config.budgets ? { budgets: config.budgets } : {}),
  };
}
