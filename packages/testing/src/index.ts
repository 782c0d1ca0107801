export {
  type RedisFixture,
  type RedisServerFixture,
  silentLogger,
  uniquePrefix,
  useRedis,
  useRedisServer,
} from './fixtures.js';
export { claimInto, classifyRequest, queuedItem } from './items.js';
export { freePort } from './ports.js';
export { type RedisCluster, startRedisCluster } from './redis-cluster.js';
export { type RedisSentinelSet, startRedisSentinelSet } from './redis-sentinel.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';
export {
  keepOutput,
  runSourceBin,
  SOURCE_CONDITION,
  type SourceChild,
  sourceNodeArgs,
  spawnTs,
} from './source.js';
export { waitFor } from './wait.js';
