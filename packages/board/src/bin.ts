#!/usr/bin/env node
/**
 * `nightshift-board`: the ops board as its own process. Reads the environment once (loadConfig),
 * connects to Redis, listens, prints the URL (never credentials), and shuts down gracefully on
 * SIGTERM/SIGINT.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ConfigError, createLogger, loadConfig, redactError } from '@nightshift/shared';
import { connectionFromEnv, createRedis, describeRedis, logRedisErrors } from '@nightshift/store';
import { startRoleTelemetry } from '@nightshift/telemetry';
import { createBoard } from './board.js';
import { boardOptionsFromConfig } from './options.js';

async function main() {
  const config = loadConfig();
  const { env } = config;
  const logger = createLogger('board', env.NIGHTSHIFT_LOG_LEVEL);
  const settings = connectionFromEnv(env);
  const settingsOfBoard = boardOptionsFromConfig(config);
  const { auth } = settingsOfBoard;
  const redis = createRedis(settings, 'client');
  // Logged redacted; /healthz reports the outage.
  logRedisErrors(redis, logger, describeRedis(settings));
  const client = env.ANTHROPIC_API_KEY
    ? new Anthropic({
        apiKey: env.ANTHROPIC_API_KEY,
        ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
      })
    : undefined;
  // The board's own port answers /metrics (behind its auth); NIGHTSHIFT_METRICS_PORT adds a plain one.
  const telemetry = await startRoleTelemetry('board', env, { redis, logger, always: true });
  let board: Awaited<ReturnType<typeof createBoard>>;
  try {
    board = await createBoard({
      ...settingsOfBoard,
      connection: redis,
      client,
      logger,
      ...(telemetry.registry ? { metrics: telemetry.registry } : {}),
    });
  } catch (err) {
    await telemetry.close();
    redis.disconnect();
    throw err;
  }
  process.stdout.write(
    `Nightshift board listening on ${board.url} (Redis ${describeRedis(settings)}, ` +
      `${auth ? ('token' in auth ? 'token auth' : 'basic auth') : 'no auth, loopback only'}` +
      `${env.NIGHTSHIFT_BOARD_READ_ONLY ? ', read-only' : ''})\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'board stopping');
    await board.close();
    await telemetry.close();
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const message =
    err instanceof ConfigError ? err.message : `board failed to start: ${redactError(err).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
