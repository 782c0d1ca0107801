#!/usr/bin/env node
/**
 * `nightshift-webhooks`: the webhook dispatcher and delivery worker as a role process (the shared
 * role lifecycle: environment read once, Redis errors logged redacted, metrics on
 * `NIGHTSHIFT_METRICS_PORT`, graceful SIGTERM).
 */
import { runRoleProcess } from '@nightshift/telemetry';
import { webhooksOptionsFromEnv } from './options.js';
import { startWebhooks } from './webhooks.js';

runRoleProcess('webhooks', ({ config, logger, connection, metrics }) =>
  startWebhooks({
    ...webhooksOptionsFromEnv(config.env),
    connection,
    prefix: config.prefix,
    logger,
    ...(metrics ? { metrics } : {}),
  }),
);
