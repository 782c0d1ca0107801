#!/usr/bin/env node
/**
 * `nightshift-api`: the HTTP enqueue API as its own process (the shared server lifecycle:
 * environment read once, Redis errors logged redacted, metrics on `NIGHTSHIFT_METRICS_PORT`, the URL
 * printed, graceful SIGTERM/SIGINT: calls in progress finish first).
 */
import { ApiTokens, Store } from '@nightshift/store';
import { runServerProcess } from '@nightshift/telemetry';
import { createApi } from './api.js';
import { apiOptionsFromEnv } from './options.js';

runServerProcess('api', {}, async ({ config, logger, connection, client, metrics, redisName }) => {
  const { env } = config;
  const api = await createApi({
    ...apiOptionsFromEnv(env),
    connection,
    prefix: config.prefix,
    prices: config.prices,
    logger,
    ...(metrics ? { metrics } : {}),
    ...(client ? { client } : {}),
  });
  if (env.NIGHTSHIFT_API_AUTH === 'tokens') {
    const any = await new ApiTokens(new Store(connection, config.prefix)).any().catch(() => true);
    if (!any)
      logger.warn(
        'no API token exists yet: every call answers 401 until one is made (nightshift api-token create)',
      );
  }
  return {
    close: () => api.close(),
    banner:
      `Nightshift API listening on ${api.url} (Redis ${redisName}, ` +
      `${env.NIGHTSHIFT_API_AUTH === 'none' ? 'no tokens, loopback only' : 'token auth'})`,
  };
});
