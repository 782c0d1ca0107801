/**
 * `verifyWebhook()` for Node receivers, a thin wrapper of the `standardwebhooks` package (the
 * Standard Webhooks reference library): no Redis, no BullMQ; import it as
 * `@nightshift/webhooks/verify` to load nothing else.
 */
import type { WebhookEnvelope } from '@nightshift/shared';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export { WebhookVerificationError };

/** The three headers every delivery carries (any case; Node lower-cases them). */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

/**
 * Checks a delivery's signature and timestamp (within 5 minutes) and returns its parsed body.
 * Pass the body exactly as received (the raw string or Buffer, not a re-serialized object).
 * Throws `WebhookVerificationError` when the signature, the headers or the timestamp are wrong.
 *
 * @example
 * app.post('/hooks/nightshift', express.raw({ type: 'application/json' }), (req, res) => {
 *   const event = verifyWebhook(req.body, req.headers, process.env.NIGHTSHIFT_WEBHOOK_SECRET!);
 *   // dedupe by req.headers['webhook-id'], then act on event.type / event.data
 *   res.sendStatus(204);
 * });
 */
export function verifyWebhook(
  payload: string | Buffer,
  headers: WebhookHeaders,
  secret: string,
): WebhookEnvelope {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(' ') : v;
  }
  return new Webhook(secret).verify(payload, flat) as WebhookEnvelope;
}
