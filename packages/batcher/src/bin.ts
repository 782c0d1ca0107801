#!/usr/bin/env -S npx tsx
/**
 * `nightshift-batcher`: runs the batcher as its own process. Configuration comes from the
 * environment (see the README's table); SIGTERM / SIGINT close it gracefully: the flush in
 * progress finishes its current batch (or leaves its submission for recovery), then exit 0.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createLogger, loadConfig } from '@nightshift/shared';
import { connectionFromEnv, createRedis, describeRedis } from '@nightshift/store';
import { startBatcher } from './batcher.js';

async function main() {
  const config = loadConfig();
  const env = config.env;
  const logger = createLogger('batcher', env.NIGHTSHIFT_LOG_LEVEL);
  const settings = connectionFromEnv(env);
  const connection = createRedis(settings, 'worker');
  // The SDK reads ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL itself; the key is never logged.
  const client = new Anthropic({
    ...(env.ANTHROPIC_API_KEY ? { apiKey: env.ANTHROPIC_API_KEY } : {}),
    ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
  });
  logger.info(
    { redis: describeRedis(settings), api: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com' },
    'starting',
  );
  const batcher = await startBatcher({
    connection,
    prefix: config.prefix,
    client,
    tickMs: env.NIGHTSHIFT_TICK_MS,
    maxRequests: env.NIGHTSHIFT_MAX_REQUESTS,
    maxBytes: env.NIGHTSHIFT_MAX_BYTES,
    minRequests: env.NIGHTSHIFT_MIN_REQUESTS,
    maxWaitMs: env.NIGHTSHIFT_MAX_WAIT_MS,
    deadlineSlackMs: env.NIGHTSHIFT_DEADLINE_SLACK_MS,
    createTimeoutMs: env.NIGHTSHIFT_CREATE_TIMEOUT_MS,
    submissionLeaseMs: env.NIGHTSHIFT_SUBMISSION_LEASE_MS,
    circuitCooldownMs: env.NIGHTSHIFT_CIRCUIT_COOLDOWN_MS,
    logger,
  });
  batcher.on('error', (err) => logger.error({ err: err.message }, 'batcher error'));
  batcher.on('circuit:open', (c) => logger.error(c, 'ALERT: submissions stopped (circuit open)'));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await batcher.close();
      await connection.quit();
      process.exit(0);
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  // Config errors carry their full message (every bad variable); nothing secret is in it.
  process.stderr.write(`nightshift-batcher: ${(err as Error).message}\n`);
  process.exit(1);
});
