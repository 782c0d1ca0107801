import { ApiTokens, createRedis, type RedisClient, Store } from '@nightshift/store';
import { type RedisServer, silentLogger, startRedisServer, uniquePrefix } from '@nightshift/testing';
import { type Api, type ApiOptions, createApi } from '../src/index.js';

const MODEL = 'claude-haiku-4-5';

/** A valid request body item. */
export const request = (key: string, over: Record<string, unknown> = {}) => ({
  feature: 'digest',
  key,
  params: { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: `summarize ${key}` }] },
  metadata: { key },
  ...over,
});

// biome-ignore lint/suspicious/noExplicitAny: a test reads answers loosely; its assertions check the shape.
type Json = any;
/** A fetch Response whose JSON is read loosely. */
export interface Answer extends Response {
  json(): Promise<Json>;
}

/** One redis-server per test file; an API per test with its own prefix and tokens. */
export async function apiHarness() {
  const server: RedisServer = await startRedisServer();
  const redis: RedisClient = createRedis({ url: server.url }, 'client');
  const apis: Api[] = [];
  return {
    server,
    redis,
    async start(over: Partial<ApiOptions> = {}) {
      const prefix = over.prefix ?? uniquePrefix();
      const api = await createApi({ connection: redis, prefix, port: 0, logger: silentLogger, ...over });
      apis.push(api);
      const tokens = new ApiTokens(new Store(redis, prefix));
      const call = (
        path: string,
        init: RequestInit & { token?: string; json?: unknown } = {},
      ): Promise<Answer> => {
        const headers = new Headers(init.headers);
        if (init.token) headers.set('authorization', `Bearer ${init.token}`);
        if (init.json !== undefined) headers.set('content-type', 'application/json');
        return fetch(`${api.url}${path}`, {
          ...init,
          headers,
          ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
        });
      };
      return { api, prefix, store: new Store(redis, prefix), tokens, call };
    },
    async stop() {
      await Promise.all(apis.map((a) => a.close()));
      await redis.quit();
      await server.stop();
    },
  };
}

/** Keys of the prefix other than the tokens, the rate limiter's counters and event-free bookkeeping. */
export async function writtenKeys(redis: RedisClient, prefix: string): Promise<string[]> {
  const keys = await redis.keys(`${prefix}:*`);
  return keys.filter((k) => !k.endsWith(':api-tokens') && !k.startsWith(`${prefix}:{api-rl}`)).sort();
}
