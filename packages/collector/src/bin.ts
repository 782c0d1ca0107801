#!/usr/bin/env -S npx tsx
/**
 * `nightshift-collector`: runs the collector as its own process. Configuration comes from the
 * environment (see the README's table). SIGTERM / SIGINT close it gracefully: a result stream in
 * progress stops at its next chunk boundary and its tracking job is handed back at once (see
 * `Collector.close`), then the process exits 0.
 */
import { runRoleProcess } from '@nightshift/store';
import { startCollector } from './collector.js';

runRoleProcess('collector', async ({ config, logger, connection, client }) => {
  const env = config.env;
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
  return collector;
});
