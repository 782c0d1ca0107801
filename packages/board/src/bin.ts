#!/usr/bin/env node
/**
 * `nightshift-board`: the ops board as its own process (the shared server lifecycle: environment
 * read once, Redis errors logged redacted while /healthz reports the outage, the URL printed (never
 * credentials), graceful SIGTERM/SIGINT).
 */
import { runServerProcess } from '@nightshift/telemetry';
import { createBoard } from './board.js';
import { boardOptionsFromConfig } from './options.js';

// The board's own port answers /metrics (behind its auth); NIGHTSHIFT_METRICS_PORT adds a plain one.
runServerProcess(
  'board',
  { metricsAlways: true },
  async ({ config, logger, connection, client, metrics, redisName }) => {
    const settings = boardOptionsFromConfig(config);
    const { auth } = settings;
    const board = await createBoard({
      ...settings,
      connection,
      client,
      logger,
      ...(metrics ? { metrics } : {}),
    });
    return {
      close: () => board.close(),
      banner:
        `Nightshift board listening on ${board.url} (Redis ${redisName}, ` +
        `${auth ? ('token' in auth ? 'token auth' : 'basic auth') : 'no auth, loopback only'}` +
        `${config.env.NIGHTSHIFT_BOARD_READ_ONLY ? ', read-only' : ''})`,
    };
  },
);
