import { createLogger, type Logger } from '@nightshift/shared';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';

/** The redis-server of one test file; read its fields inside tests and hooks, not at import time. */
export interface RedisServerFixture {
  readonly server: RedisServer;
  readonly url: string;
}

/** A redis-server of one test file and a client of it. */
export interface RedisFixture<C> extends RedisServerFixture {
  readonly redis: C;
}

function set<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`${what} is ready only inside tests and hooks (it starts in beforeAll)`);
  return value;
}

/**
 * Starts a throwaway redis-server for this test file in `beforeAll` and stops it in `afterAll`.
 * Call it at the top of the file: hooks registered later (closing producers, boards) run before the stop.
 */
export function useRedisServer(opts: RedisServerOptions = {}): RedisServerFixture {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer(opts);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      return set(server, 'the redis-server');
    },
    get url() {
      return set(server, 'the redis-server').url;
    },
  };
}

/**
 * {@link useRedisServer} and one client made by `connect` (e.g. `(url) => createRedis({ url })`),
 * quit before the server stops.
 */
export function useRedis<C extends { quit(): Promise<unknown> }>(
  connect: (url: string) => C,
  opts: RedisServerOptions = {},
): RedisFixture<C> {
  const fx = useRedisServer(opts);
  let redis: C | undefined;
  beforeAll(() => {
    redis = connect(fx.url);
  });
  afterAll(async () => {
    await redis?.quit();
  });
  return {
    get server() {
      return fx.server;
    },
    get url() {
      return fx.url;
    },
    get redis() {
      return set(redis, 'the Redis client');
    },
  };
}

let prefixes = 0;
/** A key prefix no other test of the process uses; `tag` tells the package in a key dump. */
export const uniquePrefix = (tag = 't'): string => `${tag}${process.pid}x${++prefixes}`;

/** A logger that writes nothing, for roles under test. */
export const silentLogger: Logger = createLogger('test', 'silent');
