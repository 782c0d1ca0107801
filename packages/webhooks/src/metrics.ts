import { BUCKETS, defineCounter, defineHistogram, type Registry } from '@nightshift/telemetry';

/**
 * How one delivery attempt ended: `delivered` (2xx), `rejected` (another status), `error` (timeout,
 * connection refused, reset), `gone` (410: the endpoint is disabled), `refused` (a private target,
 * not allowed), `skipped` (the endpoint is disabled or removed: no request made).
 */
export type AttemptOutcome = 'delivered' | 'rejected' | 'error' | 'gone' | 'refused' | 'skipped';

/** The webhook role's measurements: a no-op without a registry. */
export interface WebhookInstruments {
  /** One attempt; `seconds` is the HTTP exchange's duration when a request was made. */
  attempt(endpoint: string, event: string, outcome: AttemptOutcome, seconds?: number): void;
  /** A delivery that reached its receiver, `seconds` after its event was fanned out. */
  delivered(event: string, seconds: number): void;
  /** A delivery given up on (attempts used up, or an outcome that is not retried): it waits for a replay. */
  failed(endpoint: string): void;
  /** Events fanned out (acknowledged) by a dispatcher. */
  dispatched(events: number): void;
}

const NONE: WebhookInstruments = {
  attempt: () => undefined,
  delivered: () => undefined,
  failed: () => undefined,
  dispatched: () => undefined,
};

/** From fan-out to a 2xx: first-attempt milliseconds to hours of backoff. */
const EVENT_TO_DELIVERY = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];

/**
 * The webhook role's metrics (bounded labels: the endpoint names an operator registered, the five
 * event types, the attempt outcome): attempts and their duration, the time from fan-out to
 * delivery, deliveries given up on, and the dispatcher's fan-out.
 */
export function webhookInstruments(registry: Registry | undefined): WebhookInstruments {
  if (!registry) return NONE;
  const attempts = defineCounter(
    registry,
    'nightshift_webhook_attempts_total',
    'Delivery attempts by endpoint, event type and outcome (delivered, rejected, error, gone, refused, skipped).',
    ['endpoint', 'event', 'outcome'],
  );
  const attemptSeconds = defineHistogram(
    registry,
    'nightshift_webhook_attempt_duration_seconds',
    'Duration of the HTTP exchange of a delivery attempt (connect to the end of the answer, or the timeout), by outcome.',
    BUCKETS.http,
    ['outcome'],
  );
  const latency = defineHistogram(
    registry,
    'nightshift_webhook_event_to_delivery_seconds',
    'Time from an event being fanned out to its delivery being answered 2xx (retries and backoff included), by event type.',
    EVENT_TO_DELIVERY,
    ['event'],
  );
  const failed = defineCounter(
    registry,
    'nightshift_webhook_deliveries_failed_total',
    'Deliveries given up on (attempts used up, 410, a refused target, a disabled or removed endpoint), by endpoint; each waits in {webhooks} for a replay.',
    ['endpoint'],
  );
  const events = defineCounter(
    registry,
    'nightshift_webhook_events_dispatched_total',
    'Outbox events fanned out (acknowledged) by this process.',
  );
  return {
    attempt: (endpoint, event, outcome, seconds) => {
      attempts.inc({ endpoint, event, outcome });
      if (seconds !== undefined) attemptSeconds.observe({ outcome }, seconds);
    },
    delivered: (event, seconds) => latency.observe({ event }, Math.max(0, seconds)),
    failed: (endpoint) => failed.inc({ endpoint }),
    dispatched: (n) => events.inc(n),
  };
}
