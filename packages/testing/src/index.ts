export { freePort } from './ports.js';
export { type RedisCluster, startRedisCluster } from './redis-cluster.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { spawnTs } from './ts-process.js';
export { waitFor } from './wait.js';
