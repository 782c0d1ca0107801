import { type Logger, NightshiftError, REDACTED, redactError } from '@nightshift/shared';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface ConnectionSettings {
  /** `redis://` or `rediss://` URL (password and TLS taken from it). */
  url: string;
  /** Seed nodes `host:port` of a Redis Cluster; when given, a Cluster client is made. */
  clusterNodes?: string[];
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
  if (settings.clusterNodes?.length) {
    const url = new URL(settings.url);
    const redisOptions: RedisOptions = {
      ...base,
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    };
    const nodes = settings.clusterNodes.map((n) => {
      const [host, port] = n.trim().split(':');
      if (!host || !port || !/^\d+$/.test(port)) {
        throw new NightshiftError('CONFIG', `NIGHTSHIFT_REDIS_CLUSTER_NODES: "${n}" is not host:port`);
      }
      return { host, port: Number(port) };
    });
    return new Cluster(nodes, {
      redisOptions,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      enableReadyCheck: true,
    });
  }
  return new Redis(settings.url, base);
}

/** Connection settings from validated config env. */
export function connectionFromEnv(env: {
  REDIS_URL: string;
  NIGHTSHIFT_REDIS_CLUSTER_NODES?: string | undefined;
}) {
  return {
    url: env.REDIS_URL,
    clusterNodes: env.NIGHTSHIFT_REDIS_CLUSTER_NODES?.split(',').filter(Boolean),
  } satisfies ConnectionSettings;
}

/**
 * A one-line description of where a client connects, for logs and messages: scheme, user, host
 * and port, with the password (if any) as `***`, e.g. `redis://:***@10.0.0.5:6379`; a cluster's
 * seed list. Never the password.
 */
export function describeRedis(settings: ConnectionSettings): string {
  if (settings.clusterNodes?.length) return `Redis Cluster ${settings.clusterNodes.join(',')}`;
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
