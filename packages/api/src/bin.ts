#!/usr/bin/env node
/**
 * `nightshift-api`: the HTTP enqueue API as its own process. Reads the environment once
 * (loadConfig), connects to Redis (errors logged redacted), serves its metrics (when
 * `NIGHTSHIFT_METRICS_PORT` is set), listens, prints the URL, and shuts down gracefully on
 * SIGTERM/SIGINT (calls in progress finish first).
 */
import Anthropic from '@anthropic-ai/sdk';
import { createLogger, loadConfig, redactError } from '@nightshift/shared';
import {
  ApiTokens,
  connectionFromEnv,
  createRedis,
  describeRedis,
  logRedisErrors,
  Store,
} from '@nightshift/store';
import { startRoleTelemetry } from '@nightshift/telemetry';
import { createApi } from './api.js';
import { apiOptionsFromEnv } from './options.js';

async function main() {
  const config = loadConfig();
  const { env } = config;
  const logger = createLogger('api', env.NIGHTSHIFT_LOG_LEVEL);
  const settings = connectionFromEnv(env);
  // A client connection: a call fails fast (503) rather than waiting for Redis to come back.
  const redis = createRedis(settings, 'client');
  logRedisErrors(redis, logger, describeRedis(settings));
  const client = env.ANTHROPIC_API_KEY
    ? new Anthropic({
        apiKey: env.ANTHROPIC_API_KEY,
        ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
      })
    : undefined;
  const telemetry = await startRoleTelemetry('api', env, { redis, logger }).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  let api: Awaited<ReturnType<typeof createApi>>;
  try {
    api = await createApi({
      ...apiOptionsFromEnv(env),
      connection: redis,
      prefix: config.prefix,
      prices: config.prices,
      logger,
      ...(telemetry.registry ? { metrics: telemetry.registry } : {}),
      ...(client ? { client } : {}),
    });
  } catch (err) {
    await telemetry.close();
    redis.disconnect();
    throw err;
  }
  if (env.NIGHTSHIFT_API_AUTH === 'tokens') {
    const any = await new ApiTokens(new Store(redis, config.prefix)).any().catch(() => true);
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
    await telemetry.close();
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  // Config errors carry their full message (every bad variable); URL credentials are masked.
  process.stderr.write(`nightshift-api: ${redactError(err).message}\n`);
  process.exit(1);
});
