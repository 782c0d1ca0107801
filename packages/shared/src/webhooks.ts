/**
 * The contracts of the HTTP API and of webhooks that several packages share: event types and their
 * payloads, webhook endpoints, API tokens. Signing and delivery live in `@nightshift/webhooks`;
 * storage in `@nightshift/store`.
 */
import type { TokenCounts } from './types.js';

/** Every event a webhook endpoint can subscribe to. */
export const WEBHOOK_EVENTS = Object.freeze([
  'request.succeeded',
  'request.failed',
  'request.canceled',
  'batch.ended',
  'feature.drained',
] as const);

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Endpoint names, feature and partition tags: 1–64 of `A-Z a-z 0-9 _ . -`. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** A registered webhook endpoint, as stored (the secret never leaves the store but for signing). */
export interface WebhookEndpoint {
  name: string;
  url: string;
  /** `whsec_` + base64 of the signing key (Standard Webhooks). Shown once, at registration. */
  secret: string;
  events: WebhookEventType[];
  /** Only events of these features (empty: every feature). */
  features: string[];
  /** Only events of these partitions (empty: every partition). */
  partitions: string[];
  /**
   * Request events only for requests that name this endpoint in `notify` (still within the
   * filters above); batch and drain events as usual.
   */
  requestOnly: boolean;
  enabled: boolean;
  /** Why it was disabled: 'operator', 'gone' (HTTP 410) or 'failing' (failure window passed). */
  disabledReason?: string;
  createdAt: number;
}

/** An endpoint as listed: everything but the secret. */
export type WebhookEndpointView = Omit<WebhookEndpoint, 'secret'> & {
  health: { failingSince?: number; lastSuccess?: number; lastFailure?: number; lastStatus?: string };
};

/** What an HTTP API token may touch. Empty lists mean "any". */
export interface TokenScope {
  features: string[];
  partitions: string[];
}

/** An API token as stored (keyed by the SHA-256 of the token; the token itself is never stored). */
export interface ApiTokenRecord extends TokenScope {
  id: string;
  name: string;
  createdAt: number;
}

/** The body of every webhook (Standard Webhooks' recommended envelope). */
export interface WebhookEnvelope<T extends WebhookEventType = WebhookEventType> {
  type: T;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: WebhookData[T];
}

interface RequestRef {
  customId: string;
  feature: string;
  partition: string;
  /** The request's metadata, as enqueued (null when none). */
  metadata: unknown;
}

/** The data of each event type. */
export interface WebhookData {
  'request.succeeded': RequestRef & {
    model: string;
    mode: 'batch' | 'realtime';
    batchId: string | null;
    attempt: number;
    /** The text blocks of the answer, joined; cut at `NIGHTSHIFT_WEBHOOK_MAX_TEXT_BYTES`. */
    text: string | null;
    textTruncated: boolean;
    stopReason: string | null;
    usage: TokenCounts | null;
    cost: { cost: number; realtimeEquivalent: number; savings: number } | null;
  };
  'request.failed': RequestRef & {
    reason: string;
    lastError: { type: string; message: string } | null;
    attempt: number;
    batchId: string | null;
  };
  'request.canceled': RequestRef;
  'batch.ended': {
    batchId: string;
    partition: string;
    requestCount: number;
    /** Result lines by type, as applied. */
    counts: Record<string, number>;
  };
  'feature.drained': {
    feature: string;
    markId: string;
    markedAt: string;
  };
}

/** The data of one `{webhooks}` delivery job: the exact body every attempt (and a replay) sends. */
export interface DeliveryJobData {
  /** The event's deterministic id: the `webhook-id` header. */
  eventId: string;
  endpoint: string;
  type: WebhookEventType;
  body: string;
  /** When the event was fanned out, ms. */
  at: number;
}
