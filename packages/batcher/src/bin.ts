#!/usr/bin/env -S npx tsx
/**
 * `nightshift-batcher`: runs the batcher as its own process. Configuration comes from the
 * environment (see the README's table); SIGTERM / SIGINT close it gracefully: the flush in
 * progress finishes its current batch (or leaves its submission for recovery), then exit 0.
 */
import { runRoleProcess } from '@nightshift/store';
import { startBatcher } from './batcher.js';

runRoleProcess('batcher', async ({ config, logger, connection, client }) => {
  const env = config.env;
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
  return batcher;
});
