import { createRequire } from 'node:module';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** This package's version (src/ and dist/ both sit one level below package.json). */
export const VERSION: string = createRequire(import.meta.url)('../package.json').version;

/**
 * Histogram buckets, in seconds, for the durations Nightshift measures. Each spans what the
 * quantity really takes, so a quantile is read between two close bounds, not from a catch-all.
 */
export const BUCKETS = Object.freeze({
  /** A Redis command from a role: sub-millisecond on loopback, seconds when Redis is in trouble. */
  redis: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  /** An HTTP call a role serves (the API) or makes (a webhook delivery, 10 s timeout): ms to s. */
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  /** One API call (`batches.create` uploads up to 256 MB; its timeout is 2 min): ms to minutes. */
  apiCall: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  /** A flush (claim, create, commit of every batch it makes), or one chunk of results applied. */
  work: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  /** A batch from creation to `ended` at the API: minutes to the 24 h window (and past it). */
  batchEnd: [60, 300, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200, 64_800, 86_400, 108_000],
  /** A request from enqueue to its result: the batch's wait plus up to a day, retries: days. */
  enqueueToResult: [
    60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400, 172_800, 345_600, 604_800,
  ],
});

/** Batch sizes, in requests (the API takes 1 to 100,000 per batch). */
export const BATCH_SIZE_BUCKETS = [1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000];

/**
 * A prom-client registry for one Nightshift role process: the Node process metrics of prom-client
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`,
 * `nodejs_gc_duration_seconds`, heap sizes, …, under their usual names so stock Node dashboards
 * work) and `nightshift_info{role,version} 1`, which tells a dashboard what each target is.
 * Roles then register their own metrics on it (`startBatcher({ metrics })`, …).
 */
export function createRoleRegistry(role: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  defineGauge(
    registry,
    'nightshift_info',
    'Always 1: the Nightshift role this process runs and its version.',
    ['role', 'version'],
  ).set({ role, version: VERSION }, 1);
  return registry;
}

/**
 * A metric of one name per registry: the existing one when the name is already registered (a
 * service that starts two result workers on its registry, a role started twice in a test),
 * otherwise `make()`. prom-client refuses a second metric of the same name.
 */
function registered<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** A counter on `registry` (the one already there under that name, if any). */
export function defineCounter(registry: Registry, name: string, help: string, labelNames: string[] = []) {
  return registered(registry, name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

/** A gauge on `registry` (the one already there under that name, if any). */
export function defineGauge(registry: Registry, name: string, help: string, labelNames: string[] = []) {
  return registered(registry, name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

/** A histogram on `registry` (the one already there under that name, if any). */
export function defineHistogram(
  registry: Registry,
  name: string,
  help: string,
  buckets: readonly number[],
  labelNames: string[] = [],
) {
  return registered(
    registry,
    name,
    () => new Histogram({ name, help, buckets: [...buckets], labelNames, registers: [registry] }),
  );
}

/** What {@link watchRedis} needs of a Redis client (ioredis' `Redis` and `Cluster` both fit). */
export interface Pingable {
  ping(): Promise<unknown>;
}

/** A running {@link watchRedis}. */
export interface RedisWatch {
  stop(): void;
}

/**
 * Measures the role's Redis round trip: a PING every `intervalMs` (default 5 s) into
 * `nightshift_redis_roundtrip_seconds`; one that fails or takes longer than `timeoutMs` (default
 * 2.5 s, the histogram's last bucket) counts in `nightshift_redis_ping_failures_total`, and so
 * does every probe while it stays unanswered (a worker connection queues it through an outage).
 * The timer does not keep the process alive.
 */
export function watchRedis(
  registry: Registry,
  redis: Pingable,
  opts: { intervalMs?: number; timeoutMs?: number } = {},
): RedisWatch {
  const intervalMs = opts.intervalMs ?? 5_000;
  const timeoutMs = opts.timeoutMs ?? 2_500;
  const roundTrip = defineHistogram(
    registry,
    'nightshift_redis_roundtrip_seconds',
    'Round trip of a PING from this process to its Redis, every few seconds.',
    BUCKETS.redis,
  );
  const failures = defineCounter(
    registry,
    'nightshift_redis_ping_failures_total',
    'Round-trip probes to Redis that failed or timed out (or found the previous PING still unanswered).',
  );
  // One PING at a time: during an outage a worker connection queues commands instead of failing
  // them, so a PING that timed out stays pending; while it does, each probe counts as failed.
  let pending: Promise<unknown> | undefined;
  const ping = async () => {
    if (pending) {
      failures.inc();
      return;
    }
    const end = roundTrip.startTimer();
    const sent = redis.ping();
    pending = sent.then(
      () => undefined,
      () => undefined,
    );
    void pending.then(() => {
      pending = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sent,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
        }),
      ]);
      end();
    } catch {
      failures.inc();
    } finally {
      clearTimeout(timer);
    }
  };
  const interval = setInterval(() => void ping(), intervalMs);
  interval.unref();
  void ping();
  return { stop: () => clearInterval(interval) };
}

export { Counter, Gauge, Histogram, Registry };
