import Anthropic from '@anthropic-ai/sdk';
import { type Config, loadConfig } from '@nightshift/shared';
import { connectionFromEnv, createRedis, describeRedis, type RedisClient, Store } from '@nightshift/store';

/** What every command gets: validated config, a Redis client, the store, output streams. */
export interface CliContext {
  config: Config;
  redis: RedisClient;
  store: Store;
  json: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
  /** The Anthropic client, made on first use (only `cancel` and the demo need it). */
  anthropic: () => Anthropic;
  /** Where Redis is, for messages (never with the password: `describeRedis`). */
  redisWhere: string;
  /**
   * The last connection error the client reported (TLS, authentication, refused), or undefined.
   * A command that gave up only says "max retries"; this is why.
   */
  redisError: () => Error | undefined;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function openContext(
  env: NodeJS.ProcessEnv,
  io: { out: (s: string) => void; err: (s: string) => void },
  json: boolean,
): CliContext {
  const config = loadConfig(env);
  const settings = connectionFromEnv(config.env);
  const redis = createRedis(settings, 'client');
  // Errors surface on the command that needs Redis (with this cause); the client would otherwise
  // print them too.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  let client: Anthropic | undefined;
  return {
    config,
    redis,
    store: new Store(redis, config.prefix),
    json,
    ...io,
    redisWhere: describeRedis(settings),
    redisError: () => lastError,
    anthropic: () => {
      client ??= new Anthropic({
        apiKey: config.env.ANTHROPIC_API_KEY ?? null,
        ...(config.env.ANTHROPIC_BASE_URL ? { baseURL: config.env.ANTHROPIC_BASE_URL } : {}),
      });
      return client;
    },
  };
}
