import Anthropic from '@anthropic-ai/sdk';
import {
  boundHeapGrowth,
  type Config,
  createLogger,
  type Logger,
  loadConfig,
  redactError,
} from '@nightshift/shared';
import {
  connectionFromEnv,
  createRedis,
  describeRedis,
  logRedisErrors,
  type RedisClient,
} from '@nightshift/store';
import type { Registry } from 'prom-client';
import { startRoleTelemetry } from './role.js';

/** What a role's start function gets: validated config, its logger, a worker connection, the SDK client. */
export interface RoleContext {
  config: Config;
  logger: Logger;
  connection: RedisClient;
  client: Anthropic;
  /** The process's metrics registry (hand it to the role), when `NIGHTSHIFT_METRICS_PORT` is set. */
  metrics: Registry | undefined;
}

/**
 * The shared life of a role process (`nightshift-batcher`, `nightshift-collector`): read the
 * environment once, bound the heap's growth, connect, serve its metrics (when
 * `NIGHTSHIFT_METRICS_PORT` is set), start the role, and on SIGTERM / SIGINT close it, then the
 * metrics and the connection, and exit 0. A start-up error (e.g. an invalid setting) is printed once
 * and exits 1.
 */
export function runRoleProcess(
  role: string,
  start: (ctx: RoleContext) => Promise<{ close(): Promise<void> }>,
): void {
  const main = async () => {
    const config = loadConfig();
    const env = config.env;
    const logger = createLogger(role, env.NIGHTSHIFT_LOG_LEVEL);
    boundHeapGrowth(env.NIGHTSHIFT_HEAP_GROWING_PERCENT);
    const settings = connectionFromEnv(env);
    const connection = createRedis(settings, 'worker');
    logRedisErrors(connection, logger, describeRedis(settings));
    // The key comes from the environment and is never logged.
    const client = new Anthropic({
      ...(env.ANTHROPIC_API_KEY ? { apiKey: env.ANTHROPIC_API_KEY } : {}),
      ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
    });
    logger.info(
      { redis: describeRedis(settings), api: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com' },
      'starting',
    );
    const telemetry = await startRoleTelemetry(role, env, { redis: connection, logger });
    const running = await start({ config, logger, connection, client, metrics: telemetry.registry });

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      try {
        await running.close();
        await telemetry.close();
        await connection.quit();
        process.exit(0);
      } catch (err) {
        logger.error({ err: redactError(err) }, 'shutdown failed');
        process.exit(1);
      }
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  };
  main().catch((err) => {
    // Config errors carry their full message (every bad variable); URL credentials are masked.
    process.stderr.write(`nightshift-${role}: ${redactError(err).message}\n`);
    process.exit(1);
  });
}
