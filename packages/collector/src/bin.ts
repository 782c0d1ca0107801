#!/usr/bin/env node
/**
 * `nightshift-collector`: runs the collector as its own process. Configuration comes from the
 * environment (see the README's table). SIGTERM / SIGINT close it gracefully: a result stream in
 * progress stops at its next chunk boundary and its tracking job is handed back at once (see
 * `Collector.close`), then the process exits 0.
 */
import { runRoleProcess } from '@nightshift/telemetry';
import { startCollector } from './collector.js';
import { collectorOptionsFromConfig } from './options.js';

runRoleProcess('collector', async ({ config, ...ctx }) => {
  const collector = await startCollector(collectorOptionsFromConfig(config, ctx));
  // Errors are already logged by the collector; listening keeps them from being thrown.
  collector.on('error', () => undefined);
  return collector;
});
