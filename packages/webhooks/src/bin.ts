#!/usr/bin/env node
/**
 * `nightshift-webhooks`: the webhook dispatcher and delivery worker as a role process (the shared
 * role lifecycle: environment read once, graceful SIGTERM).
 */
import { runRoleProcess } from '@nightshift/store';
import { webhooksOptionsFromEnv } from './options.js';
import { startWebhooks } from './webhooks.js';

runRoleProcess('webhooks', ({ config, logger, connection }) =>
  startWebhooks({ ...webhooksOptionsFromEnv(config.env), connection, prefix: config.prefix, logger }),
);
