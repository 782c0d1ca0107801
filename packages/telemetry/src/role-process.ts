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
 * The shared life of a role process (`nightshift-batcher`, `nightshift-collector`,
 * `nightshift-webhooks`): read the environment once, bound the heap's growth, connect, serve its
 * metrics (when `NIGHTSHIFT_METRICS_PORT` is set), start the role, and on SIGTERM / SIGINT close it,
 * then the metrics and the connection, and exit 0. A start-up error (e.g. an invalid setting) is
 * printed once and exits 1.
 */
export function runRoleProcess(
  role: string,
  start: (ctx: RoleContext) => Promise<{ close(): Promise<void> }>,
): void {
  runMain(role, async () => {
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
    onStopSignal(logger, 'shutting down', async () => {
      try {
        await running.close();
        await telemetry.close();
        await connection.quit();
        process.exit(0);
      } catch (err) {
        logger.error({ err: redactError(err) }, 'shutdown failed');
        process.exit(1);
      }
    });
  });
}

/** What a server's start function gets: as a role's, but a client connection and no client without a key. */
export interface ServerContext extends Omit<RoleContext, 'client'> {
  /** The SDK client, when `ANTHROPIC_API_KEY` is set. */
  client: Anthropic | undefined;
  /** How Redis is reached, for the start-up line (never credentials). */
  redisName: string;
}

/**
 * The shared life of an HTTP server process (`nightshift-api`, `nightshift-board`): read the
 * environment once, connect with a client connection (a call fails fast rather than waiting for
 * Redis to come back; errors are logged redacted), serve its metrics (when `NIGHTSHIFT_METRICS_PORT`
 * is set, or `metricsAlways`), start the server and print its `banner`, and on SIGTERM / SIGINT
 * close it (calls in progress finish first), then the metrics and the connection, and exit 0. A
 * start-up error is printed once and exits 1.
 */
export function runServerProcess(
  role: string,
  opts: { metricsAlways?: boolean },
  start: (ctx: ServerContext) => Promise<{ close(): Promise<void>; banner: string }>,
): void {
  runMain(role, async () => {
    const config = loadConfig();
    const { env } = config;
    const logger = createLogger(role, env.NIGHTSHIFT_LOG_LEVEL);
    const settings = connectionFromEnv(env);
    const connection = createRedis(settings, 'client');
    const redisName = describeRedis(settings);
    logRedisErrors(connection, logger, redisName);
    const client = env.ANTHROPIC_API_KEY
      ? new Anthropic({
          apiKey: env.ANTHROPIC_API_KEY,
          ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
        })
      : undefined;
    const telemetry = await startRoleTelemetry(role, env, {
      redis: connection,
      logger,
      ...(opts.metricsAlways ? { always: true } : {}),
    }).catch((err: unknown) => {
      connection.disconnect();
      throw err;
    });
    let running: { close(): Promise<void>; banner: string };
    try {
      running = await start({ config, logger, connection, client, metrics: telemetry.registry, redisName });
    } catch (err) {
      await telemetry.close();
      connection.disconnect();
      throw err;
    }
    process.stdout.write(`${running.banner}\n`);
    onStopSignal(logger, `${role} stopping`, async () => {
      await running.close();
      await telemetry.close();
      await connection.quit().catch(() => connection.disconnect());
      process.exit(0);
    });
  });
}

/** Runs a process's `main`; a start-up error is printed once and exits 1. */
function runMain(role: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    // Config errors carry their full message (every bad variable); URL credentials are masked.
    process.stderr.write(`nightshift-${role}: ${redactError(err).message}\n`);
    process.exit(1);
  });
}

/** On the first SIGTERM or SIGINT, logs `message` and runs `stop` (which exits the process). */
function onStopSignal(logger: Logger, message: string, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, message);
    void stop();
  };
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
}
