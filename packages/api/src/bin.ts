#!/usr/bin/env node
/**
 * `nightshift-api`: the HTTP enqueue API as its own process. Reads the environment once
 * (loadConfig), connects to Redis, listens, prints the URL, and shuts down gracefully on
 * SIGTERM/SIGINT (calls in progress finish first).
 */
import Anthropic from '@anthropic-ai/sdk';
import { ConfigError, createLogger, loadConfig, storeKeys } from '@nightshift/shared';
import { ApiTokens, connectionFromEnv, createRedis, describeRedis } from '@nightshift/store';
import { createApi } from './api.js';
import { apiOptionsFromEnv } from './options.js';

async function main() {
  const config = loadConfig();
  const { env } = config;
  const logger = createLogger('api', env.NIGHTSHIFT_LOG_LEVEL);
  const settings = connectionFromEnv(env);
  const redis = createRedis(settings, 'client');
  redis.on('error', (err: Error) =>
    logger.warn({ redis: describeRedis(settings), err: err.message }, 'redis error'),
  );
  const client = env.ANTHROPIC_API_KEY
    ? new Anthropic({
        apiKey: env.ANTHROPIC_API_KEY,
        ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
      })
    : undefined;
  let api: Awaited<ReturnType<typeof createApi>>;
  try {
    api = await createApi({
      ...apiOptionsFromEnv(env),
      connection: redis,
      prefix: config.prefix,
      logger,
      ...(client ? { client } : {}),
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  if (env.NIGHTSHIFT_API_AUTH === 'tokens') {
    const any = await new ApiTokens(redis, storeKeys(config.prefix)).any().catch(() => true);
    if (!any)
      logger.warn(
        'no API token exists yet: every call answers 401 until one is made (nightshift api-token create)',
      );
  }
  process.stdout.write(
    `Nightshift API listening on ${api.url} (Redis ${describeRedis(settings)}, ` +
      `${env.NIGHTSHIFT_API_AUTH === 'none' ? 'no tokens, loopback only' : 'token auth'})\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    await api.close();
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `api failed to start: ${(err as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
