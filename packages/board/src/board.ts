import type { Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { createLogger, listenHttp, QUEUE_LABELS, type QUEUES, storeKeys } from '@nightshift/shared';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { type BoardContext, createContext, QUEUE_ROLES } from './context.js';
import { type Board, type BoardOptions, resolveOptions } from './options.js';
import { actionRoutes, BadParam, readRoutes } from './routes.js';
import { requireAuth, sameOriginWrites, securityHeaders, sharedCsrfToken } from './security.js';

const QUEUE_DESCRIPTIONS: Record<keyof typeof QUEUES, string> = {
  flush: 'Batcher ticks and manual flushes (single-flight).',
  batches: 'One tracking job per Message Batch: batch id, counts, polls.',
  collect: 'Collector sweeps: alerts, orphan adoption, retention.',
  results:
    'Results for services: a batch’s results grouped per job (res-<batch id>-<hash>), a real-time answer alone (res-<custom_id>).',
  deadLetters: 'Final failures with reason and attempt history; retry them from the overview.',
  webhooks:
    'One delivery per (event, endpoint): whd-<endpoint>-<event id>. Failed deliveries stay here; retry (replay) them here, on the overview or with nightshift webhooks replay.',
};

/** Bull Board under /queues: every Nightshift queue, read-only when the board is. */
function bullBoard(ctx: BoardContext): express.Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/queues');
  createBullBoard({
    queues: QUEUE_ROLES.map(
      (role) =>
        new BullMQAdapter(ctx.queues[role], {
          readOnlyMode: ctx.opts.readOnly,
          displayName: QUEUE_LABELS[role],
          description: QUEUE_DESCRIPTIONS[role],
        }),
    ),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Nightshift',
        miscLinks: [{ text: 'Nightshift overview', url: '/' }],
        hideDocsLink: true,
        sortQueues: false,
        ...(ctx.opts.readOnly ? { environment: { label: 'read-only', color: '#445266' } } : {}),
      },
    },
  });
  const sub = serverAdapter.getRouter() as Express;
  // The adapter is its own Express app: it would announce itself on every answer.
  sub.disable('x-powered-by');
  const router = express.Router();
  router.use((req, res, next) => {
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (ctx.opts.readOnly && !safe) {
      res.status(403).json({ error: 'The board is read-only: actions are disabled.' });
      return;
    }
    next();
  });
  router.use(sameOriginWrites);
  router.use(sub);
  return router;
}

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
export function buildApp(ctx: BoardContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.get('/healthz', healthz(ctx));
  app.use(requireAuth(ctx.opts.auth));
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
  const csrf = await sharedCsrfToken(opts.connection, storeKeys(opts.prefix).boardCsrf);
  if (!csrf.shared) {
    logger.warn(
      'Redis not reachable at start-up: this board uses a CSRF token of its own (fine for one replica)',
    );
  }
  const ctx = createContext(opts, logger, csrf.token);
  const app = buildApp(ctx);
  let listening: { server: Server; url: string };
  try {
    listening = await listenHttp(app, opts.host, opts.port);
  } catch (err) {
    await Promise.all(QUEUE_ROLES.map((r) => ctx.queues[r].close()));
    throw err;
  }
  const { server, url } = listening;
  logger.info(
    { url, readOnly: opts.readOnly, auth: opts.auth ? Object.keys(opts.auth)[0] : 'none' },
    'board listening',
  );
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.all(QUEUE_ROLES.map((r) => ctx.queues[r].close()));
    })();
    return closing;
  };
  return { url, app, close };
}
