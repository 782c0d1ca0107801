import { closeOnce, type Env, type Logger } from '@nightshift/shared';
import type { Registry } from 'prom-client';
import { createRoleRegistry, type Pingable, watchRedis } from './metrics.js';
import { type MetricsServer, startMetricsServer } from './server.js';

/** What {@link startRoleTelemetry} set up for a role process. */
export interface RoleTelemetry {
  /** The role's registry: hand it to the role (`metrics`); undefined when metrics are off. */
  registry: Registry | undefined;
  /** The `/metrics` server, when `NIGHTSHIFT_METRICS_PORT` is set. */
  server: MetricsServer | undefined;
  /** Stops the Redis probe and the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * The metrics of a role process, from its validated environment: with `NIGHTSHIFT_METRICS_PORT`
 * set (or `always`, for the board, whose own port answers `/metrics` too) a registry with the
 * process metrics and the Redis round trip, and, with the port, a server on
 * `NIGHTSHIFT_METRICS_HOST` (bearer `NIGHTSHIFT_METRICS_TOKEN` if set). Without either, nothing is
 * measured at all. Traces need nothing here: spans go to whatever tracer provider the operator
 * registered (see the package README).
 */
export async function startRoleTelemetry(
  role: string,
  env: Pick<Env, 'NIGHTSHIFT_METRICS_PORT' | 'NIGHTSHIFT_METRICS_HOST' | 'NIGHTSHIFT_METRICS_TOKEN'>,
  opts: { redis: Pingable; logger: Logger; always?: boolean },
): Promise<RoleTelemetry> {
  const port = env.NIGHTSHIFT_METRICS_PORT;
  if (port === undefined && !opts.always) {
    return { registry: undefined, server: undefined, close: async () => undefined };
  }
  const registry = createRoleRegistry(role);
  const watch = watchRedis(registry, opts.redis);
  let server: MetricsServer | undefined;
  if (port !== undefined) {
    try {
      server = await startMetricsServer(registry, {
        host: env.NIGHTSHIFT_METRICS_HOST,
        port,
        logger: opts.logger,
        ...(env.NIGHTSHIFT_METRICS_TOKEN ? { token: env.NIGHTSHIFT_METRICS_TOKEN } : {}),
      });
    } catch (err) {
      watch.stop();
      throw new Error(
        `cannot serve metrics on ${env.NIGHTSHIFT_METRICS_HOST}:${port} (NIGHTSHIFT_METRICS_PORT): ${(err as Error).message}`,
      );
    }
    opts.logger.info(
      { url: `${server.url}/metrics`, auth: env.NIGHTSHIFT_METRICS_TOKEN ? 'bearer' : 'none' },
      'metrics listening',
    );
  }
  return {
    registry,
    server,
    close: closeOnce(async () => {
      watch.stop();
      await server?.close();
    }),
  };
}
