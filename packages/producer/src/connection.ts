import { ConfigError } from '@nightshift/shared';
import { type ConnectionSettings, type RedisClient, splitList } from '@nightshift/store';

/** How a producer or result worker is told where Redis is (see ProducerOptions). */
export interface ConnectionChoice {
  connection?: RedisClient | undefined;
  redisUrl?: string | undefined;
  clusterNodes?: string | string[] | undefined;
  sentinels?: string | string[] | undefined;
  sentinelMaster?: string | undefined;
  sentinelPassword?: string | undefined;
}

/**
 * Checks that exactly one of `connection` and `redisUrl` is given (and `clusterNodes` or the
 * Sentinel options only with `redisUrl`); returns the settings of the client to open, or undefined
 * when the caller passed its own. Lists are arrays or one comma-separated string exactly as the
 * environment holds them (`NIGHTSHIFT_REDIS_CLUSTER_NODES`, `NIGHTSHIFT_REDIS_SENTINELS`), so a
 * service passes the variables through unchanged; empty means unset. `who` names the entry point.
 */
export function checkConnectionChoice(who: string, opts: ConnectionChoice): ConnectionSettings | undefined {
  if ((opts.connection === undefined) === (opts.redisUrl === undefined)) {
    throw new ConfigError(`${who}: give exactly one of connection or redisUrl`);
  }
  const clusterNodes = splitList(opts.clusterNodes);
  const sentinels = splitList(opts.sentinels);
  if (opts.connection !== undefined) {
    const extra = clusterNodes ? 'clusterNodes' : sentinels ? 'sentinels' : undefined;
    if (extra) {
      throw new ConfigError(`${who}: ${extra} goes with redisUrl (a connection you pass is used as it is)`);
    }
    return undefined;
  }
  if (clusterNodes && sentinels) {
    throw new ConfigError(`${who}: give clusterNodes or sentinels, not both`);
  }
  return {
    url: opts.redisUrl as string,
    ...(clusterNodes ? { clusterNodes } : {}),
    ...(sentinels ? { sentinels } : {}),
    ...(sentinels && opts.sentinelMaster ? { sentinelMaster: opts.sentinelMaster } : {}),
    ...(sentinels && opts.sentinelPassword ? { sentinelPassword: opts.sentinelPassword } : {}),
  };
}
