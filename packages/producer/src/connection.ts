import { NightshiftError } from '@nightshift/shared';
import { createRedis, type RedisClient } from '@nightshift/store';

/** How a producer or result worker is told where Redis is (see ProducerOptions). */
export interface ConnectionChoice {
  connection?: RedisClient | undefined;
  redisUrl?: string | undefined;
  clusterNodes?: string | string[] | undefined;
}

/**
 * Seed nodes from the `clusterNodes` option: an array, or one comma-separated string exactly as
 * `NIGHTSHIFT_REDIS_CLUSTER_NODES` holds it, so a service can pass the variable through unchanged.
 * Empty (or unset) means no cluster.
 */
export function clusterSeeds(value: string | string[] | undefined): string[] | undefined {
  const list = (typeof value === 'string' ? value.split(',') : (value ?? []))
    .map((n) => n.trim())
    .filter(Boolean);
  return list.length ? list : undefined;
}

/**
 * Checks that exactly one of `connection` and `redisUrl` is given (and `clusterNodes` only with
 * `redisUrl`); returns the seed list, if any. `who` names the entry point in the error.
 */
export function checkConnectionChoice(who: string, opts: ConnectionChoice): string[] | undefined {
  if ((opts.connection === undefined) === (opts.redisUrl === undefined)) {
    throw new NightshiftError('CONFIG', `${who}: give exactly one of connection or redisUrl`);
  }
  const seeds = clusterSeeds(opts.clusterNodes);
  if (seeds && opts.connection !== undefined) {
    throw new NightshiftError(
      'CONFIG',
      `${who}: clusterNodes goes with redisUrl (a connection you pass is used as it is)`,
    );
  }
  return seeds;
}

/**
 * The client opened from `redisUrl` (+ `clusterNodes`): one Redis, a `rediss://` Redis with TLS and
 * password, or a Redis Cluster whose nodes all use the URL's password and TLS.
 */
export function openOwnConnection(
  redisUrl: string,
  seeds: string[] | undefined,
  purpose: 'worker' | 'client',
): RedisClient {
  return createRedis({ url: redisUrl, ...(seeds ? { clusterNodes: seeds } : {}) }, purpose);
}
