import type { Producer } from '@nightshift/producer';
import { CUSTOM_ID_PATTERN, NAME_PATTERN } from '@nightshift/shared';
import { drainMarkById, type Store, WebhookEndpoints } from '@nightshift/store';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { allowed } from './auth.js';
import { ApiError, toApiError } from './errors.js';
import type { ApiInstruments } from './metrics.js';
import type { ResolvedApiOptions } from './options.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the routes need. */
export interface RouteContext {
  opts: ResolvedApiOptions;
  store: Store;
  producer: Producer;
  metrics: ApiInstruments;
}

const param = (req: Request, name: string, pattern: RegExp, what: string) => {
  const v = String(req.params[name] ?? '');
  if (!pattern.test(v))
    throw new ApiError(400, 'validation_failed', `${what} "${v.slice(0, 80)}" is malformed.`, {
      issues: [{ field: name, message: `must match ${pattern.source}` }],
    });
  return v;
};

const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found.`);

/**
 * The items of a POST body: one request object, or `{ "requests": [...] }`. Checked before the
 * producer sees them: the count, the caller's scope per item (feature and partition) and that each
 * `notify` name is a registered endpoint.
 */
async function itemsOf(ctx: RouteContext, req: Request, res: Response): Promise<unknown[]> {
  if (!req.is('application/json')) {
    throw new ApiError(415, 'unsupported_media_type', 'Send the body as application/json.');
  }
  const body: unknown = req.body;
  const many = isObj(body) && 'requests' in body;
  res.locals.single = !many;
  if (many && Object.keys(body).some((k) => k !== 'requests')) {
    throw new ApiError(400, 'validation_failed', 'A batch body has one field, requests.', {
      issues: Object.keys(body)
        .filter((k) => k !== 'requests')
        .map((field) => ({ field, message: 'unknown field; remove it (replace is a query parameter)' })),
    });
  }
  const items = many ? body.requests : [body];
  if (!Array.isArray(items)) {
    throw new ApiError(400, 'validation_failed', 'requests must be an array.', {
      issues: [{ field: 'requests', message: 'must be an array of requests' }],
    });
  }
  if (items.length > ctx.opts.maxItems) {
    throw new ApiError(
      413,
      'too_many_items',
      `At most ${ctx.opts.maxItems} requests per call; got ${items.length}.`,
    );
  }
  const denied: { index?: number; field: string; message: string }[] = [];
  const named = new Map<number, string[]>();
  items.forEach((it, index) => {
    if (!isObj(it) || typeof it.feature !== 'string') return; // the validation names it
    const partition = typeof it.partition === 'string' ? it.partition : 'default';
    const where = many ? { index } : {};
    if (!allowed(res, it.feature)) {
      denied.push({
        ...where,
        field: 'feature',
        message: `this token may not enqueue feature "${it.feature}"`,
      });
    } else if (!allowed(res, it.feature, partition)) {
      denied.push({
        ...where,
        field: 'partition',
        message: `this token may not enqueue partition "${partition}"`,
      });
    }
    if (Array.isArray(it.notify))
      named.set(
        index,
        it.notify.filter((n): n is string => typeof n === 'string'),
      );
  });
  if (denied.length) {
    throw new ApiError(
      403,
      'forbidden_scope',
      'The token’s scope does not cover every request; nothing was enqueued.',
      {
        issues: denied,
      },
    );
  }
  if (named.size) await checkEndpoints(ctx, named, many);
  return items;
}

async function checkEndpoints(ctx: RouteContext, named: Map<number, string[]>, many: boolean) {
  const known = new Set((await new WebhookEndpoints(ctx.store).list()).map((e) => e.name));
  const unknown: { index?: number; field: string; message: string }[] = [];
  for (const [index, names] of named) {
    names.forEach((name, i) => {
      if (!known.has(name) && NAME_PATTERN.test(name)) {
        unknown.push({
          ...(many ? { index } : {}),
          field: `notify[${i}]`,
          message: `no webhook endpoint is registered as "${name}" (an operator adds it with nightshift webhooks add)`,
        });
      }
    });
  }
  if (unknown.length) {
    throw new ApiError(
      400,
      'unknown_endpoint',
      'A request names a webhook endpoint that is not registered.',
      {
        issues: unknown,
      },
    );
  }
}

/** Reads a request's feature and partition; 404 when it is unknown or outside the caller's scope. */
async function ownRequest(ctx: RouteContext, res: Response, customId: string) {
  const [rec] = await ctx.store.records.peek([customId], ['feature', 'partition', 'state']);
  // Outside the scope reads as unknown: a token cannot probe another service's custom_ids.
  if (!rec || !allowed(res, rec.feature, rec.partition)) throw notFound(`Request ${customId}`);
  return rec;
}

const wrap =
  (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) =>
    fn(req, res).catch((err: unknown) => next(toApiError(err, res.locals.single === true)));

/** The `/v1` routes. */
export function v1Routes(ctx: RouteContext): Router {
  const r = Router();
  const json = express.json({ limit: ctx.opts.bodyLimitBytes, strict: false });

  r.post(
    '/requests',
    json,
    wrap(async (req, res) => {
      const items = await itemsOf(ctx, req, res);
      const replace = req.query.replace === 'true' || req.query.replace === '1';
      const results = await ctx.producer.enqueueMany(items as never[], { replace });
      ctx.metrics.enqueued(results.map((r) => r.outcome));
      res.status(202).json(res.locals.single ? results[0] : { results });
    }),
  );

  r.get(
    '/requests/:customId',
    wrap(async (req, res) => {
      const customId = param(req, 'customId', CUSTOM_ID_PATTERN, 'custom_id');
      const rec = await ownRequest(ctx, res, customId);
      res.json({ ...(await ctx.producer.getStatus(customId)), partition: rec.partition });
    }),
  );

  r.delete(
    '/requests/:customId',
    wrap(async (req, res) => {
      const customId = param(req, 'customId', CUSTOM_ID_PATTERN, 'custom_id');
      await ownRequest(ctx, res, customId);
      const [result = { code: 'unknown' }] = await ctx.store.records.cancel([customId], ctx.opts.now());
      if (result.code === 'unknown') throw notFound(`Request ${customId}`);
      if (result.code === 'not-queued') {
        const { state } = result;
        throw new ApiError(
          409,
          'not_cancelable',
          `Request ${customId} is ${state}: only a request that is still queued can be canceled.`,
          { state },
        );
      }
      res.json({ customId, state: 'canceled', alreadyCanceled: result.code === 'canceled' });
    }),
  );

  r.get(
    '/features/:feature/progress',
    wrap(async (req, res) => {
      const feature = featureParam(req, res);
      res.json(await ctx.store.drains.progress(feature));
    }),
  );

  r.post(
    '/features/:feature/drain',
    wrap(async (req, res) => {
      const feature = featureParam(req, res);
      const mark = await ctx.store.drains.mark(feature, ctx.opts.now());
      res.status(202).json({
        markId: mark.markId,
        feature,
        markedAt: new Date(mark.markedAt).toISOString(),
        drained: mark.drained,
      });
    }),
  );

  r.get(
    '/features/:feature/drain/:markId',
    wrap(async (req, res) => {
      const feature = featureParam(req, res);
      const markId = param(req, 'markId', /^dm-\d{1,15}-[A-Za-z0-9_.-]{1,64}$/, 'drain mark');
      const mark = await drainMarkById(ctx.store, markId);
      if (!mark || mark.feature !== feature) throw notFound(`Drain mark ${markId}`);
      const progress = mark.drainedAt ? undefined : await ctx.store.drains.progress(feature);
      res.json({
        markId,
        feature,
        markedAt: new Date(mark.markedAt).toISOString(),
        drained: mark.drainedAt !== undefined,
        ...(mark.drainedAt ? { drainedAt: new Date(mark.drainedAt).toISOString() } : {}),
        remaining: progress?.pendingMarks.find((m) => m.markId === markId)?.remaining ?? 0,
      });
    }),
  );
  return r;
}

function featureParam(req: Request, res: Response): string {
  const feature = param(req, 'feature', NAME_PATTERN, 'feature');
  if (!allowed(res, feature)) {
    throw new ApiError(403, 'forbidden_scope', `This token may not use feature "${feature}".`, {
      issues: [{ field: 'feature', message: 'outside the token’s scope' }],
    });
  }
  return feature;
}
