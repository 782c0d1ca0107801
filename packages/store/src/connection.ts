import { ConfigError, type Logger, REDACTED, redactError } from '@nightshift/shared';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface ConnectionSettings {
  /** `redis://` or `rediss://` URL (password and TLS taken from it). */
  url: string;
  /** Seed nodes `host:port` of a Redis Cluster; when given, a Cluster client is made. */
  clusterNodes?: string[];
  /**
   * Redis Sentinels `host:port`; when given, the client asks them for the master of
   * `sentinelMaster` and follows it through a failover (the URL's host and port are not used, its
   * password and TLS apply to the master).
   */
  sentinels?: string[];
  /** The master group name the Sentinels monitor. @defaultValue 'mymaster' */
  sentinelMaster?: string;
  /** The Sentinels' own password (`requirepass` of sentinel.conf), if they want one. */
  sentinelPassword?: string;
}

/** Sentinel's own default master name (`sentinel monitor mymaster …` in sentinel.conf). */
export const DEFAULT_SENTINEL_MASTER = 'mymaster';

/** `host:port` items of a seed list, refused with a ConfigError naming `setting` when malformed. */
function hostPorts(setting: string, list: string[]): { host: string; port: number }[] {
  return list.map((n) => {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(n.trim());
    if (!m || Number(m[2]) > 65_535) {
      throw new ConfigError(`${setting}: "${n}" is not host:port (e.g. 10.0.0.5:26379)`);
    }
    return { host: m[1] as string, port: Number(m[2]) };
  });
}

/** The URL's password, user and TLS, which apply to every node of a cluster or Sentinel set-up. */
function urlAuth(urlText: string): RedisOptions {
  const url = new URL(urlText);
  return {
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Makes an ioredis client. `purpose: 'worker'` is for BullMQ workers and our background loops
 * (commands wait out a Redis outage: maxRetriesPerRequest null); `'client'` is for request paths
 * that should fail rather than hang (the producer, the board, the CLI).
 */
export function createRedis(
  settings: ConnectionSettings,
  purpose: 'worker' | 'client' = 'worker',
): RedisClient {
  const base: RedisOptions = {
    maxRetriesPerRequest: purpose === 'worker' ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    // Reconnect for ever, backing off to 2 s: processes ride out a Redis restart.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  if (settings.clusterNodes?.length && settings.sentinels?.length) {
    throw new ConfigError(
      'NIGHTSHIFT_REDIS_CLUSTER_NODES and NIGHTSHIFT_REDIS_SENTINELS: set one of them (a Redis Cluster fails over by itself, Sentinel is for a single master with replicas)',
    );
  }
  if (settings.clusterNodes?.length) {
    const nodes = hostPorts('NIGHTSHIFT_REDIS_CLUSTER_NODES', settings.clusterNodes);
    return new Cluster(nodes, {
      redisOptions: { ...base, ...urlAuth(settings.url) },
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      enableReadyCheck: true,
    });
  }
  if (settings.sentinels?.length) {
    const auth = urlAuth(settings.url);
    return new Redis({
      ...base,
      ...auth,
      sentinels: hostPorts('NIGHTSHIFT_REDIS_SENTINELS', settings.sentinels),
      name: settings.sentinelMaster ?? DEFAULT_SENTINEL_MASTER,
      ...(settings.sentinelPassword ? { sentinelPassword: settings.sentinelPassword } : {}),
      // rediss:// means TLS to the master; the Sentinels get it too (enableTLSForSentinelMode).
      ...(auth.tls ? { enableTLSForSentinelMode: true } : {}),
      // No failoverDetector: its reconnect can race one already under way and leave the client
      // closed for good (ioredis 6.0, seen in sentinel.e2e). A killed master drops the connection
      // anyway, and a demoted one answers READONLY (below).
      sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
      // A master demoted in a failover answers writes with READONLY: reconnect (asking the
      // Sentinels where the master is now) and send the command again. It was refused, not run.
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    });
  }
  return new Redis(settings.url, base);
}

/** Connection settings from validated config env. */
export function connectionFromEnv(env: {
  REDIS_URL: string;
  NIGHTSHIFT_REDIS_CLUSTER_NODES?: string | undefined;
  NIGHTSHIFT_REDIS_SENTINELS?: string | undefined;
  NIGHTSHIFT_REDIS_SENTINEL_MASTER?: string | undefined;
  NIGHTSHIFT_REDIS_SENTINEL_PASSWORD?: string | undefined;
}): ConnectionSettings {
  const clusterNodes = splitList(env.NIGHTSHIFT_REDIS_CLUSTER_NODES);
  const sentinels = splitList(env.NIGHTSHIFT_REDIS_SENTINELS);
  return {
    url: env.REDIS_URL,
    ...(clusterNodes ? { clusterNodes } : {}),
    ...(sentinels ? { sentinels } : {}),
    ...(env.NIGHTSHIFT_REDIS_SENTINEL_MASTER ? { sentinelMaster: env.NIGHTSHIFT_REDIS_SENTINEL_MASTER } : {}),
    ...(env.NIGHTSHIFT_REDIS_SENTINEL_PASSWORD
      ? { sentinelPassword: env.NIGHTSHIFT_REDIS_SENTINEL_PASSWORD }
      : {}),
  };
}

/**
 * A list given as an array or as one comma-separated string (as the environment holds it), blanks
 * dropped; undefined when empty.
 */
export function splitList(value: string | readonly string[] | undefined): string[] | undefined {
  const list = (typeof value === 'string' ? value.split(',') : (value ?? []))
    .map((n) => n.trim())
    .filter(Boolean);
  return list.length ? list : undefined;
}

/**
 * A one-line description of where a client connects, for logs and messages: scheme, user, host
 * and port, with the password (if any) as `***`, e.g. `redis://:***@10.0.0.5:6379`; a cluster's
 * seed list. Never the password.
 */
export function describeRedis(settings: ConnectionSettings): string {
  if (settings.clusterNodes?.length) return `Redis Cluster ${settings.clusterNodes.join(',')}`;
  if (settings.sentinels?.length) {
    return `Redis Sentinel master ${settings.sentinelMaster ?? DEFAULT_SENTINEL_MASTER} via ${settings.sentinels.join(',')}`;
  }
  try {
    const u = new URL(settings.url);
    const auth = u.password ? `${u.username}:${REDACTED}@` : u.username ? `${REDACTED}@` : '';
    return `${u.protocol}//${auth}${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'redis (unparseable URL)';
  }
}

/** The same connection error is logged at most this often (a client retries every 0.1–2 s). */
const REPEAT_LOG_MS = 30_000;

/**
 * Logs a client's connection errors (refused, TLS, wrong password) as `redis error` lines naming
 * `where` (a `describeRedis` text) and the error through `redactError`, so the AUTH arguments an
 * ioredis error carries never reach the log; without a listener ioredis prints errors itself. The
 * same message again within 30 s is counted, not logged (`repeated` on the next line).
 */
export function logRedisErrors(client: RedisClient, logger: Logger, where: string): void {
  let last = { message: '', at: 0, repeated: 0 };
  client.on('error', (err: unknown) => {
    const safe = redactError(err);
    const now = Date.now();
    if (safe.message === last.message && now - last.at < REPEAT_LOG_MS) {
      last.repeated++;
      return;
    }
    const repeated = safe.message === last.message ? last.repeated : 0;
    last = { message: safe.message, at: now, repeated: 0 };
    logger.warn({ redis: where, err: safe, ...(repeated ? { repeated } : {}) }, 'redis error');
  });
}
