import type { Server } from 'node:http';
import { boardLoginPrefix, closeOnce, createLogger, listenHttp } from '@nightshift/shared';
import { Store } from '@nightshift/store';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { bullBoard } from './bull-board.js';
import { type BoardContext, createContext, QUEUE_ROLES } from './context.js';
import { registerFleetMetrics } from './metrics.js';
import { type Board, type BoardOptions, resolveOptions } from './options.js';
import { actionRoutes, BadParam, readRoutes } from './routes.js';
import { hostCheck, loginThrottle, requireAuth, securityHeaders, sharedCsrfToken } from './security.js';

/** 200 when Redis answers PING within 2 s, 503 otherwise (no auth: for probes). */
function healthz(ctx: BoardContext) {
  return async (_req: Request, res: Response) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('PING timed out after 2 s')), 2000);
      });
      await Promise.race([ctx.opts.connection.ping(), timeout]);
      res.json({ ok: true });
    } catch (err) {
      res.status(503).json({ ok: false, error: `Redis did not answer: ${(err as Error).message}` });
    } finally {
      clearTimeout(timer);
    }
  };
}

const errorPage = (message: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">` +
  `<title>Nightshift board: error</title></head><body><h1>Nightshift board</h1><p>${message}</p>` +
  '<p>This page reloads every 5 s.</p></body></html>';

function errors(ctx: BoardContext) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof BadParam) {
      res.status(400).json({ error: err.message });
      return;
    }
    const clientError = (err as { status?: number }).status;
    if (typeof clientError === 'number' && clientError >= 400 && clientError < 500) {
      res.status(clientError).json({ error: 'Bad request.' });
      return;
    }
    // The details go to the log only: an answer must never carry connection strings or stacks.
    ctx.logger.error({ err: (err as Error).message, path: req.path }, 'board request failed');
    const redisDown = ctx.opts.connection.status !== 'ready';
    const message = redisDown
      ? 'The board cannot reach Redis, so it cannot show Nightshift’s state. /healthz answers 503 meanwhile.'
      : 'Internal error; see the board’s log.';
    const status = redisDown ? 503 : 500;
    if (req.method === 'GET' && req.accepts(['json', 'html']) === 'html') {
      // The ops person sees a page that says what is wrong and retries by itself.
      res.status(status).type('html').send(errorPage(message));
      return;
    }
    res.status(status).json({ error: message });
  };
}

/** Builds the Express app (not listening). */
function buildApp(ctx: BoardContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  // Before any route, /healthz included: without credentials always (DNS rebinding), with them
  // when the operator lists host names.
  if (!ctx.opts.auth || ctx.opts.allowedHosts) {
    app.use(
      hostCheck({ allowedHosts: ctx.opts.allowedHosts, listenHost: ctx.opts.host, logger: ctx.logger }),
    );
  }
  app.get('/healthz', healthz(ctx));
  app.use(
    requireAuth(
      ctx.opts.auth,
      loginThrottle(ctx.opts.connection, boardLoginPrefix(ctx.opts.prefix)),
      ctx.logger,
    ),
  );
  app.use('/queues', bullBoard(ctx));
  app.use(readRoutes(ctx));
  app.use(actionRoutes(ctx));
  app.use((_req, res) => {
    res.status(404).json({ error: 'Not found.' });
  });
  app.use(errors(ctx));
  return app;
}

/**
 * Starts the ops board: Bull Board under `/queues`, the overview at `/`, JSON under `/api`,
 * `/metrics` and `/healthz`. Refuses to listen on a non-loopback address without credentials.
 *
 * @example
 * const board = await createBoard({ connection: createRedis({ url }, 'client') });
 * console.log(board.url); // http://127.0.0.1:3000
 */
export async function createBoard(options: BoardOptions): Promise<Board> {
  const opts = resolveOptions(options);
  const logger = options.logger ?? createLogger('board');
  const csrf = await sharedCsrfToken(new Store(opts.connection, opts.prefix));
  if (!csrf.shared) {
    logger.warn(
      'Redis not reachable at start-up: this board uses a CSRF token of its own (fine for one replica)',
    );
  }
  const ctx = createContext(opts, logger, csrf.token);
  const app = buildApp(ctx);
  const unregisterMetrics = registerFleetMetrics(opts.metrics, ctx);
  let listening: { server: Server; url: string };
  try {
    listening = await listenHttp(app, opts.host, opts.port);
  } catch (err) {
    unregisterMetrics();
    await Promise.all(QUEUE_ROLES.map((r) => ctx.queues[r].close()));
    throw err;
  }
  const { server, url } = listening;
  logger.info(
    { url, readOnly: opts.readOnly, auth: opts.auth ? Object.keys(opts.auth)[0] : 'none' },
    'board listening',
  );
  const close = closeOnce(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    unregisterMetrics();
    await Promise.all(QUEUE_ROLES.map((r) => ctx.queues[r].close()));
  });
  return { url, app, close };
}
