import type { DeliveryJobData, Logger } from '@nightshift/shared';
import { type Store, WebhookEndpoints } from '@nightshift/store';
import { type Job, UnrecoverableError } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { postWebhook, RefusedTarget } from './http.js';
import type { AttemptOutcome, WebhookInstruments } from './metrics.js';
import type { ResolvedWebhooksOptions } from './options.js';

const USER_AGENT = 'nightshift-webhooks/1';
const MAX_BACKOFF_MS = 3_600_000;

/** BullMQ's backoff for deliveries: `backoffMs · 2^(n−1)`, ±20 % jitter, at most 1 h. */
export function deliveryBackoff(backoffMs: number) {
  return (attemptsMade: number) => {
    const base = Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** Math.max(0, attemptsMade - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  };
}

/**
 * Delivers one job: signs the stored body anew (Standard Webhooks: `webhook-id` = the event id,
 * `webhook-timestamp` = now, `webhook-signature` = v1 HMAC-SHA256 by the `standardwebhooks`
 * package) and POSTs it. 2xx: delivered. 410: the endpoint is disabled. Anything else: the attempt
 * fails (BullMQ retries with backoff) and, once the endpoint has failed for `failureWindowMs`, it
 * is disabled. Jobs of a disabled or removed endpoint fail at once, without a request. Every
 * attempt is counted by outcome (metrics.ts), and so is a delivery given up on.
 */
export function deliveryProcessor(
  store: Store,
  opts: ResolvedWebhooksOptions,
  log: Logger,
  metrics: WebhookInstruments,
) {
  const endpoints = new WebhookEndpoints(store);
  return async (job: Job<DeliveryJobData>) => {
    const { endpoint: name, eventId, type, body } = job.data;
    // A failed attempt; the last one, or one that is not retried, gives the delivery up (replayable).
    const fail = (outcome: AttemptOutcome, err: Error, seconds?: number): never => {
      metrics.attempt(name, type, outcome, seconds);
      if (err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1))
        metrics.failed(name);
      throw err;
    };
    const ep = await endpoints.get(name);
    if (!ep) return fail('skipped', new UnrecoverableError(`endpoint ${name} was removed`));
    if (!ep.enabled) {
      const reason = ep.disabledReason ?? 'operator';
      return fail('skipped', new UnrecoverableError(`endpoint ${name} is disabled (${reason})`));
    }
    const now = opts.now();
    const timestamp = new Date(now);
    const signature = new Webhook(ep.secret).sign(eventId, timestamp, body);
    let status = 0;
    let detail = '';
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const res = await postWebhook(
        ep.url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': eventId,
          'webhook-timestamp': String(Math.floor(now / 1000)),
          'webhook-signature': signature,
        },
        { timeoutMs: opts.timeoutMs, allowPrivate: opts.allowPrivate },
      );
      status = res.status;
      detail = res.snippet.slice(0, 200);
    } catch (err) {
      if (err instanceof RefusedTarget) {
        await endpoints.recordAttempt(name, false, 'refused', now);
        return fail('refused', new UnrecoverableError(err.message), seconds());
      }
      detail = (err as Error).message;
    }
    const took = seconds();
    if (status >= 200 && status < 300) {
      await endpoints.recordAttempt(name, true, String(status), now);
      metrics.attempt(name, type, 'delivered', took);
      metrics.delivered(type, (opts.now() - job.data.at) / 1000);
      return { status, attempt: job.attemptsMade + 1 };
    }
    const what = status
      ? `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`
      : detail;
    if (status === 410) {
      await endpoints.setEnabled(name, false, 'gone');
      log.warn({ endpoint: name }, 'webhook endpoint answered 410 Gone: disabled');
      return fail('gone', new UnrecoverableError(`endpoint ${name} answered 410 Gone and is disabled`), took);
    }
    const outcome = status ? 'rejected' : 'error';
    const since = (await endpoints.recordAttempt(name, false, status ? String(status) : 'error', now)) ?? now;
    if (now - since >= opts.failureWindowMs) {
      await endpoints.setEnabled(name, false, 'failing');
      log.warn(
        { endpoint: name, failingSinceMs: now - since },
        'webhook endpoint failing for the whole window: disabled',
      );
      const message = `${what}; endpoint ${name} failed for the whole failure window and is disabled`;
      return fail(outcome, new UnrecoverableError(message), took);
    }
    return fail(outcome, new Error(`${what}${status && detail ? `: ${detail}` : ''}`), took);
  };
}
