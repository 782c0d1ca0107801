import { type DeliveryJobData, WEBHOOK_EVENTS, type WebhookEndpointView } from '@nightshift/shared';
import {
  EventOutbox,
  type FailedDelivery,
  failedDeliveries,
  failedPerEndpoint,
  replayDeliveries,
  WebhookEndpoints,
} from '@nightshift/store';
import type { Queue } from 'bullmq';
import { type ActionResult, fail } from './actions.js';
import type { BoardContext } from './context.js';

/** What the overview shows of webhooks. */
export interface WebhooksView {
  endpoints: (WebhookEndpointView & { failed: number })[];
  failed: { total: number; items: FailedDelivery[] };
  /** Events written and not fanned out yet (a dispatcher is down or behind). */
  backlog: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const JOB = /^whd-[A-Za-z0-9_.-]{1,200}$/;
const deliveries = (ctx: BoardContext) => ctx.queues.webhooks as Queue<DeliveryJobData>;
const ok = (message: string, count: number, details: Record<string, unknown> = {}): ActionResult => ({
  status: 200,
  ok: true,
  message,
  code: 'webhooks',
  count,
  details,
});

export async function webhooksView(ctx: BoardContext): Promise<WebhooksView> {
  const [endpoints, items, total, backlog, perEndpoint] = await Promise.all([
    new WebhookEndpoints(ctx.store).list(),
    failedDeliveries(deliveries(ctx), { limit: 20 }),
    deliveries(ctx).getFailedCount(),
    new EventOutbox(ctx.store).backlog(),
    failedPerEndpoint(deliveries(ctx)),
  ]);
  return {
    endpoints: endpoints.map((e) => ({ ...e, failed: perEndpoint.get(e.name) ?? 0 })),
    failed: { total, items },
    backlog,
  };
}

/** Registers an endpoint from the board's form; the answer carries the secret (shown once). */
export async function registerEndpoint(
  ctx: BoardContext,
  body: Record<string, unknown>,
): Promise<ActionResult> {
  const text = (k: string) => (typeof body[k] === 'string' ? (body[k] as string).trim() : '');
  const list = (k: string) =>
    text(k)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const picked = WEBHOOK_EVENTS.filter((e) => body[`event.${e}`] === 'on');
  try {
    const { endpoint, secret } = await new WebhookEndpoints(ctx.store).register(
      {
        name: text('name'),
        url: text('url'),
        events: picked.length ? picked : [...WEBHOOK_EVENTS],
        features: list('features'),
        partitions: list('partitions'),
        requestOnly: body.requestOnly === 'on',
      },
      ctx.opts.now(),
    );
    ctx.logger.info(
      { endpoint: endpoint.name, url: endpoint.url },
      'webhook endpoint registered from the board',
    );
    return ok(`Endpoint ${endpoint.name} registered. Its signing secret is shown once: ${secret}`, 1, {
      endpoint: endpoint.name,
      secret,
    });
  } catch (err) {
    const issues = (err as { issues?: { field: string; message: string }[] }).issues;
    if (issues) return fail(400, issues.map((i) => `${i.field}: ${i.message}`).join('; '));
    if ((err as { code?: string }).code === 'CONFLICT') return fail(409, (err as Error).message);
    throw err;
  }
}

/** Enables or disables an endpoint. */
export async function setEndpoint(ctx: BoardContext, name: string, enabled: boolean): Promise<ActionResult> {
  if (!NAME.test(name)) return fail(400, `"${name}" is not an endpoint name.`);
  if (!(await new WebhookEndpoints(ctx.store).setEnabled(name, enabled)))
    return fail(404, `No endpoint ${name}.`);
  ctx.logger.info({ endpoint: name, enabled }, 'webhook endpoint changed from the board');
  return ok(`Endpoint ${name} ${enabled ? 'enabled' : 'disabled'}.`, 1);
}

/** Replays the failed deliveries of one endpoint, or one delivery. */
export async function replay(
  ctx: BoardContext,
  target: { endpoint: string } | { jobId: string },
): Promise<ActionResult> {
  const id = 'endpoint' in target ? target.endpoint : target.jobId;
  if (!('endpoint' in target ? NAME : JOB).test(id))
    return fail(400, `"${id}" is not an endpoint or delivery id.`);
  const n = await replayDeliveries(
    deliveries(ctx),
    'endpoint' in target ? { endpoint: target.endpoint } : { jobIds: [target.jobId] },
  );
  ctx.logger.info({ ...target, replayed: n }, 'webhook deliveries replayed from the board');
  return n
    ? ok(`Replayed ${n} failed deliver${n === 1 ? 'y' : 'ies'}.`, n)
    : fail(404, 'No failed delivery to replay.');
}
