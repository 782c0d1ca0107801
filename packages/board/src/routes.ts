import { QUEUES } from '@nightshift/shared';
import express, { type Request, type Response, Router } from 'express';
import { type ActionResult, cancelBatch, retryAllDeadLetters, retryDeadLetter } from './actions.js';
import type { BoardContext } from './context.js';
import { COST_WINDOWS, type CostWindow, loadCosts } from './costs.js';
import {
  admissionView,
  batchesView,
  budgetsView,
  deadLettersView,
  overview,
  queuedRequestsView,
} from './data.js';
import { html } from './html/format.js';
import { renderFragments, renderPage } from './html/page.js';
import { actorOf, audit, requireCsrf } from './security.js';
import { registerEndpoint, replay, setEndpoint, webhooksView } from './webhooks.js';

/** A query parameter out of range: answered with 400. */
class BadParam extends Error {}

function intParam(req: Request, name: string, def: number, min: number, max: number): number {
  const raw = req.query[name];
  if (raw === undefined || raw === '') return def;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BadParam(`${name} must be a whole number from ${min} to ${max}.`);
  }
  return n;
}

function daysParam(req: Request): CostWindow {
  const days = intParam(req, 'days', 7, 1, 30);
  if (!(COST_WINDOWS as readonly number[]).includes(days)) throw new BadParam('days must be 1, 7 or 30.');
  return days as CostWindow;
}

const NOTICES: Record<string, (n: number) => string> = {
  retried: (n) => `${n} dead-lettered request${n === 1 ? '' : 's'} queued again.`,
  cancelled: () => 'Cancel requested; the collector applies the batch’s results when it ends.',
  webhooks: () => 'Webhooks updated.',
  failed: () => 'The action failed; see the board’s log.',
};

/** The overview page, its JSON, and the read-only JSON endpoints. */
export function readRoutes(ctx: BoardContext): Router {
  const r = Router();
  r.get('/', async (req, res) => {
    const days = daysParam(req);
    const o = await overview(ctx, days);
    const done = typeof req.query.done === 'string' ? NOTICES[req.query.done] : undefined;
    const notice = done ? done(intParam(req, 'n', 0, 0, 1e9)) : '';
    res.type('html').send(renderPage({ o, csrf: ctx.csrfToken, days }, String(res.locals.nonce), notice));
  });
  r.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  r.get('/api/overview', async (req, res) => {
    const days = daysParam(req);
    const o = await overview(ctx, days);
    const fragments =
      req.query.fragments === '1' ? renderFragments({ o, csrf: ctx.csrfToken, days }) : undefined;
    res.json({ ...o, ...(fragments ? { fragments } : {}) });
  });
  r.get('/api/batches', async (req, res) => {
    const limit = intParam(req, 'limit', 50, 1, 1000);
    const offset = intParam(req, 'offset', 0, 0, 1e9);
    res.json(await batchesView(ctx, ctx.opts.now(), limit, offset));
  });
  r.get('/api/admission', async (_req, res) => {
    res.json(await admissionView(ctx));
  });
  r.get('/api/budgets', async (_req, res) => {
    res.json(await budgetsView(ctx));
  });
  r.get('/api/costs', async (req, res) => {
    const days = daysParam(req);
    res.json(
      await loadCosts(ctx.store, {
        days,
        now: ctx.opts.now(),
        ...(ctx.opts.prices ? { prices: ctx.opts.prices } : {}),
      }),
    );
  });
  r.get('/api/dead-letters', async (req, res) => {
    res.json(await deadLettersView(ctx, intParam(req, 'limit', 50, 1, 1000)));
  });
  r.get('/api/requests', async (req, res) => {
    res.json(await queuedRequestsView(ctx, ctx.opts.now(), intParam(req, 'limit', 50, 1, 1000)));
  });
  r.get('/api/webhooks', async (_req, res) => {
    res.json(await webhooksView(ctx));
  });
  r.get('/metrics', async (_req, res) => {
    const body = await ctx.opts.metrics.metrics();
    res.setHeader('Content-Type', ctx.opts.metrics.contentType);
    res.send(body);
  });
  return r;
}

const wantsJson = (req: Request) =>
  req.get('x-csrf-token') !== undefined || (req.get('accept') ?? '').includes('application/json');

/** The page after registering an endpoint from the form: the secret, once. */
function registeredPage(result: ActionResult): string {
  const secret = String(result.details?.secret ?? '');
  const body = result.ok
    ? html`<p>Endpoint <strong>${String(result.details?.endpoint ?? '')}</strong> is registered.</p>
      <p>Its signing secret, shown this once (the receiver verifies every delivery with it):</p>
      <pre data-testid="webhook-secret">${secret}</pre>`
    : html`<p class="banner-bad">Not registered: ${result.message}</p>`;
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><title>Nightshift — webhook endpoint</title></head>
    <body><h1>Webhook endpoint</h1>${body}<p><a href="/#webhooks">Back to the board</a></p></body></html>`}`;
}

/** Browsers (the page script, curl -H) get JSON; a plain form post gets a redirect back to the page. */
function answer(req: Request, res: Response, result: ActionResult, anchor: string) {
  if (wantsJson(req)) {
    res
      .status(result.status)
      .json(
        result.ok
          ? { ok: true, message: result.message, ...result.details }
          : { ok: false, error: result.message },
      );
    return;
  }
  res.redirect(303, `/?done=${result.code}&n=${result.count}#${anchor}`);
}

/** What each action is called in audit lines, and which queue, job or endpoint it names. */
function auditTarget(req: Request): { action: string; queue?: string; job?: string; endpoint?: string } {
  const { batchId, jobId, name } = req.params as Record<string, string | undefined>;
  switch ((req.route as { path?: string } | undefined)?.path) {
    case '/api/batches/:batchId/cancel':
      return { action: 'cancel batch', job: String(batchId) };
    case '/api/dead-letters/:jobId/retry':
      return { action: 'retry dead letter', queue: QUEUES.deadLetters, job: String(jobId) };
    case '/api/webhooks':
      return { action: 'register webhook endpoint' };
    case '/api/webhooks/:name/enable':
      return { action: 'enable webhook endpoint', endpoint: String(name) };
    case '/api/webhooks/:name/disable':
      return { action: 'disable webhook endpoint', endpoint: String(name) };
    case '/api/webhooks/:name/replay':
      return { action: 'replay webhook deliveries', queue: QUEUES.webhooks, endpoint: String(name) };
    case '/api/webhooks/deliveries/:jobId/replay':
      return { action: 'replay webhook delivery', queue: QUEUES.webhooks, job: String(jobId) };
    default:
      return { action: 'retry all dead letters', queue: QUEUES.deadLetters };
  }
}

/**
 * The mutating routes: POST only, same-origin + CSRF token, refused with 403 in read-only mode.
 * Each call, allowed or refused, writes one audit line.
 */
export function actionRoutes(ctx: BoardContext): Router {
  const r = Router();
  const refused = (req: Request, res: Response, reason: string) =>
    audit(ctx.logger, actorOf(res), { ...auditTarget(req), outcome: 'refused', reason });
  const guard = [
    (req: Request, res: Response, next: () => void) => {
      if (!ctx.opts.readOnly) return next();
      refused(req, res, 'read-only board');
      res.status(403).json({ error: 'The board is read-only: actions are disabled.' });
    },
    express.urlencoded({ extended: false, limit: '4kb' }),
    requireCsrf(ctx.csrfToken, refused),
  ];
  const param = (req: Request, name: string) => String(req.params[name]);
  const actions: [string, (req: Request) => Promise<ActionResult>, string][] = [
    ['/api/dead-letters/retry-all', () => retryAllDeadLetters(ctx), 'dead-letters'],
    ['/api/dead-letters/:jobId/retry', (req) => retryDeadLetter(ctx, param(req, 'jobId')), 'dead-letters'],
    ['/api/batches/:batchId/cancel', (req) => cancelBatch(ctx, param(req, 'batchId')), 'batches'],
    [
      '/api/webhooks',
      (req) => registerEndpoint(ctx, (req.body ?? {}) as Record<string, unknown>),
      'webhooks',
    ],
    ['/api/webhooks/:name/enable', (req) => setEndpoint(ctx, param(req, 'name'), true), 'webhooks'],
    ['/api/webhooks/:name/disable', (req) => setEndpoint(ctx, param(req, 'name'), false), 'webhooks'],
    ['/api/webhooks/:name/replay', (req) => replay(ctx, { endpoint: param(req, 'name') }), 'webhooks'],
    [
      '/api/webhooks/deliveries/:jobId/replay',
      (req) => replay(ctx, { jobId: param(req, 'jobId') }),
      'webhooks',
    ],
  ];
  for (const [path, act, anchor] of actions) {
    r.post(path, ...guard, async (req: Request, res: Response) => {
      const result = await act(req);
      audit(ctx.logger, actorOf(res), { ...auditTarget(req), outcome: 'allowed', status: result.status });
      // A registered endpoint's secret is shown once: in this answer, never in a redirect URL.
      if (path === '/api/webhooks' && !wantsJson(req)) {
        res.status(result.status).type('html').send(registeredPage(result));
      } else answer(req, res, result, anchor);
    });
    r.all(path, (_req, res) => {
      res.setHeader('Allow', 'POST');
      res.status(405).json({ error: 'Use POST.' });
    });
  }
  return r;
}

/** Thrown for query parameters out of range; answered with 400. */
export { BadParam };
