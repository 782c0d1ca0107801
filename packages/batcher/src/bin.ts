#!/usr/bin/env node
/**
 * `nightshift-batcher`: runs the batcher as its own process. Configuration comes from the
 * environment (see the README's table); SIGTERM / SIGINT close it gracefully: the flush in
 * progress finishes its current batch (or leaves its submission for recovery), then exit 0.
 */
import { runRoleProcess } from '@nightshift/telemetry';
import { startBatcher } from './batcher.js';
import { batcherOptionsFromConfig } from './options.js';

runRoleProcess('batcher', async ({ config, ...ctx }) => {
  const batcher = await startBatcher(batcherOptionsFromConfig(config, ctx));
  batcher.on('error', (err) => ctx.logger.error({ err: err.message }, 'batcher error'));
  batcher.on('circuit:open', (c) => ctx.logger.error(c, 'ALERT: submissions stopped (circuit open)'));
  return batcher;
});
