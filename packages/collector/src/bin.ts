#!/usr/bin/env -S npx tsx
/**
 * `nightshift-collector`: runs the collector as its own process. Configuration comes from the
 * environment (see the README's table). SIGTERM / SIGINT close it gracefully: a result stream in
 * progress stops at its next chunk boundary and its tracking job is handed back at once (see
 * `Collector.close`), then the process exits 0.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createLogger, loadConfig } from '@nightshift/shared';
import { connectionFromEnv, createRedis, describeRedis } from '@nightshift/store';
import { startCollector } from './collector.js';

async function main() {
  const config = loadConfig();
  const env = config.env;
  const logger = createLogger('collector', env.NIGHTSHIFT_LOG_LEVEL);
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
  const collector = await startCollector({
    connection,
    prefix: config.prefix,
    client,
    prices: config.prices,
    pollMs: env.NIGHTSHIFT_POLL_MS,
    maxPollMs: env.NIGHTSHIFT_MAX_POLL_MS,
    maxAttempts: env.NIGHTSHIFT_MAX_ATTEMPTS,
    retryBackoffMs: env.NIGHTSHIFT_RETRY_BACKOFF_MS,
    notFoundGraceMs: env.NIGHTSHIFT_NOT_FOUND_GRACE_MS,
    deadlineSlackMs: env.NIGHTSHIFT_DEADLINE_SLACK_MS,
    retentionDays: env.NIGHTSHIFT_RESULT_RETENTION_DAYS,
    deleteAfterCollect: env.NIGHTSHIFT_DELETE_AFTER_COLLECT,
    adoptOrphans: env.NIGHTSHIFT_ADOPT_ORPHANS,
    alertPollStaleMs: env.NIGHTSHIFT_ALERT_POLL_STALE_MS,
    alertUnappliedMs: env.NIGHTSHIFT_ALERT_UNAPPLIED_MS,
    alertArchiveDays: env.NIGHTSHIFT_ALERT_ARCHIVE_DAYS,
    circuitCooldownMs: env.NIGHTSHIFT_CIRCUIT_COOLDOWN_MS,
    logger,
  });
  // Errors are already logged by the collector; listening keeps them from being thrown.
  collector.on('error', () => undefined);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await collector.close();
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
  process.stderr.write(`nightshift-collector: ${(err as Error).message}\n`);
  process.exit(1);
});
