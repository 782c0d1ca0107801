import type { Server } from 'node:http';
import { createProducer } from '@nightshift/producer';
import { closeOnce, createLogger, type Logger, listenHttp } from '@nightshift/shared';
import { Store } from '@nightshift/store';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { rateLimit, requireToken } from './auth.js';
import { ApiError, errorHandler } from './errors.js';
import { type ApiInstruments, apiInstruments, routeOf } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { type Api, type ApiOptions, type ResolvedApiOptions, resolveApiOptions } from './options.js';
import { type RouteContext, v1Routes } from './routes.js';
import { hostCheck, requireLoopback } from './security.js';

/**
 * One line per call at info: method, route, status, time, token id. Never a body or a token. The
 * same call is counted and timed by route template (metrics.ts).
 */
function accessLog(logger: Logger, metrics: ApiInstruments) {
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    // Read now: a router mounted at /v1 strips its prefix from req.path while it handles the call.
    const path = req.path;
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.call(req.method, routeOf(path), res.statusCode, seconds);
      logger.info(
        {
          method: req.method,
          path,
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
          token: res.locals.token?.id,
        },
        'call',
      );
    });
    next();
  };
}

/** Builds the Express app (not listening). */
function buildApiApp(opts: ResolvedApiOptions, ctx: RouteContext, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(accessLog(logger, ctx.metrics));
  // Before any route, /healthz included, as on the board: without tokens always (DNS rebinding),
  // with them when the operator lists host names.
  if (opts.auth === 'none' || opts.allowedHosts) {
    app.use(hostCheck({ allowedHosts: opts.allowedHosts, listenHost: opts.host, logger }));
  }
  app.get('/healthz', async (_req, res) => {
    const ok = await opts.connection.ping().then(
      () => true,
      () => false,
    );
    res.status(ok ? 200 : 503).json({ ok });
  });
  const doc = openApiDocument(opts);
  app.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  if (opts.auth === 'none') app.use('/v1', requireLoopback);
  else app.use('/v1', requireToken(ctx.store));
  app.use('/v1', rateLimit(opts.connection, opts.prefix, opts.rateLimitPerMinute, logger));
  app.use('/v1', v1Routes(ctx));
  app.use((req, _res, next) => {
    const known = /^\/v1\/(requests(\/[^/]+)?|features\/[^/]+\/(progress|drain(\/[^/]+)?))$/.test(req.path);
    next(
      known
        ? new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}.`)
        : new ApiError(404, 'not_found', `No route ${req.method} ${req.path}.`),
    );
  });
  app.use(errorHandler(logger));
  return app;
}

/**
 * Starts the HTTP API: `POST /v1/requests`, `GET|DELETE /v1/requests/{custom_id}`,
 * `GET /v1/features/{feature}/progress`, `POST /v1/features/{feature}/drain`, `/openapi.json`,
 * `/healthz`. Validation, idempotency and all-or-nothing writes are the producer's own.
 *
 * @example
 * const api = await createApi({ connection: createRedis({ url }, 'client') });
 * console.log(api.url); // http://127.0.0.1:3100
 */
export async function createApi(options: ApiOptions): Promise<Api> {
  const opts = resolveApiOptions(options);
  const logger = options.logger ?? createLogger('api');
  const store = new Store(opts.connection, opts.prefix);
  const producer = createProducer({
    connection: opts.connection,
    prefix: opts.prefix,
    deadlineSlackMs: opts.deadlineSlackMs,
    maxRequestBytes: opts.maxRequestBytes,
    now: opts.now,
    logger,
    ...(opts.prices ? { prices: opts.prices } : {}),
    ...(opts.client ? { client: opts.client } : {}),
  });
  const metrics = apiInstruments(opts.metrics);
  const app = buildApiApp(opts, { opts, store, producer, metrics }, logger);
  let listening: { server: Server; url: string };
  try {
    listening = await listenHttp(app, opts.host, opts.port);
  } catch (err) {
    await producer.close();
    throw err;
  }
  const { server, url } = listening;
  logger.info({ url, auth: opts.auth }, 'api listening');
  return {
    url,
    app,
    close: closeOnce(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await producer.close();
    }),
  };
}
