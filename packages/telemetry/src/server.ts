import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeOnce, type Logger } from '@nightshift/shared';
import type { Registry } from 'prom-client';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /**
   * Listen address.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /** Listen port; 0 picks a free one (see {@link MetricsServer.url}). */
  port: number;
  /**
   * When set, `/metrics` answers 401 unless the request carries `Authorization: Bearer <token>`
   * (Prometheus: `authorization: { credentials: … }` in the scrape config).
   * @defaultValue `undefined` (no authentication)
   */
  token?: string;
  /** Where a failed scrape is logged. */
  logger?: Logger;
}

/** A running metrics server. */
export interface MetricsServer {
  /** Where it listens, e.g. `http://127.0.0.1:9464` (the scrape target is `<url>/metrics`). */
  url: string;
  /** Stops listening and closes open connections. Idempotent. */
  close(): Promise<void>;
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

async function answer(
  registry: Registry,
  opts: MetricsServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: the metrics are at /metrics.\n');
    return;
  }
  if (!authorized(req, opts.token)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
    return;
  }
  try {
    const body = await registry.metrics();
    res
      .writeHead(200, { 'content-type': registry.contentType })
      .end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    // A collector that reads Redis failed: the scrape fails (Prometheus marks the target down).
    opts.logger?.warn({ err: (err as Error).message }, 'metrics scrape failed');
    res.writeHead(503, { 'content-type': 'text/plain' }).end('Metrics unavailable; see the log.\n');
  }
}

/**
 * Serves a registry at `GET /metrics` (Prometheus text format) and `GET /healthz` on a port of its
 * own, apart from any application server, so Prometheus scrapes every role the same way.
 */
export async function startMetricsServer(
  registry: Registry,
  opts: MetricsServerOptions,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => void answer(registry, opts, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: closeOnce(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  };
}
