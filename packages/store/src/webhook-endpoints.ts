import { randomBytes } from 'node:crypto';
import {
  type FieldIssue,
  NAME_PATTERN,
  NightshiftError,
  ValidationError,
  WEBHOOK_EVENTS,
  type WebhookEndpoint,
  type WebhookEndpointView,
  type WebhookEventType,
} from '@nightshift/shared';
import { coreOf } from './core.js';
import type { Store } from './store.js';

/** What an operator gives to register an endpoint. */
export interface EndpointInput {
  name: string;
  url: string;
  /** @defaultValue every event type */
  events?: string[];
  features?: string[];
  partitions?: string[];
  requestOnly?: boolean;
  /** A `whsec_` secret of the operator's; made (32 random bytes) when absent. */
  secret?: string;
}

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
const MAX_URL = 2048;

/** Checks an endpoint's settings; every problem is named (nothing is written when there is one). */
export function checkEndpoint(input: EndpointInput): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const at = (field: string, message: string) => issues.push({ field, message });
  if (typeof input.name !== 'string' || !NAME_PATTERN.test(input.name))
    at('name', 'must be 1–64 of A-Z a-z 0-9 _ . - (e.g. "billing-prod")');
  let url: URL | undefined;
  try {
    url = typeof input.url === 'string' && input.url.length <= MAX_URL ? new URL(input.url) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
    at('url', `must be an http(s) URL of at most ${MAX_URL} characters`);
  else if (url.username || url.password)
    at('url', 'must not carry credentials; the signature authenticates each delivery');
  else if (url.hash) at('url', 'must not have a #fragment');
  const events = input.events ?? [...WEBHOOK_EVENTS];
  if (
    !Array.isArray(events) ||
    events.length === 0 ||
    events.some((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e))
  )
    at('events', `must be a non-empty list of ${WEBHOOK_EVENTS.join(', ')}`);
  for (const field of ['features', 'partitions'] as const) {
    const list = input[field] ?? [];
    if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || !NAME_PATTERN.test(v)))
      at(field, 'each must be 1–64 of A-Z a-z 0-9 _ . -');
  }
  if (input.secret !== undefined) {
    const raw = SECRET_PATTERN.test(input.secret) ? Buffer.from(input.secret.slice(6), 'base64') : null;
    if (!raw || raw.length < 24 || raw.length > 64)
      at('secret', 'must be whsec_ followed by base64 of 24–64 bytes (or omit it to have one made)');
  }
  return issues;
}

/**
 * Whether an enabled endpoint subscribes to `request.succeeded`: its webhook carries the result text,
 * which the dispatcher reads from the `{results}` job, so completed result jobs are then kept a day
 * instead of removed at once (`deliverResults`' `keepCompleted`). One HGET of `webhook-subs`.
 */
export async function resultsWantedByWebhooks(store: Store): Promise<boolean> {
  const core = coreOf(store);
  return Number(await core.redis.hget(core.keys.webhookSubscriptions, 'request.succeeded')) > 0;
}

/**
 * Webhook endpoints registered by operators (CLI, board). Stored with their `whsec_` secret, which
 * signing needs; every listing leaves the secret out. Each change goes through one script that
 * also recomputes which event types have a subscriber (`webhook-subs`).
 */
export class WebhookEndpoints {
  constructor(private readonly store: Store) {}

  private write(name: string, json: string, mode: 'new' | 'exists' | '') {
    return coreOf(this.store).script('nsWebhookEndpoint', name, json, mode);
  }

  /** Registers an endpoint; the secret is in the answer and never shown again. */
  async register(
    input: EndpointInput,
    now = Date.now(),
  ): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    const issues = checkEndpoint(input);
    if (issues.length) throw new ValidationError(issues);
    const endpoint: WebhookEndpoint = {
      name: input.name,
      url: new URL(input.url).toString(),
      secret: input.secret ?? newWebhookSecret(),
      events: [...new Set(input.events ?? WEBHOOK_EVENTS)] as WebhookEventType[],
      features: [...new Set(input.features ?? [])],
      partitions: [...new Set(input.partitions ?? [])],
      requestOnly: input.requestOnly ?? false,
      enabled: true,
      createdAt: now,
    };
    if (Number(await this.write(endpoint.name, JSON.stringify(endpoint), 'new')) !== 1) {
      throw new NightshiftError(
        'CONFLICT',
        `A webhook endpoint named "${endpoint.name}" exists already; remove it first or choose another name.`,
      );
    }
    const { secret, ...rest } = endpoint;
    return { endpoint: { ...rest, health: {} }, secret };
  }

  /** One endpoint with its secret (for signing), or null. */
  async get(name: string): Promise<WebhookEndpoint | null> {
    const raw = await coreOf(this.store).redis.hget(coreOf(this.store).keys.webhookEndpoints, name);
    return raw ? (JSON.parse(raw) as WebhookEndpoint) : null;
  }

  /** Every endpoint with its secret (for the dispatcher and the delivery worker). */
  async all(): Promise<WebhookEndpoint[]> {
    const all = await coreOf(this.store).redis.hvals(coreOf(this.store).keys.webhookEndpoints);
    return all.map((v) => JSON.parse(v) as WebhookEndpoint).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Every endpoint without its secret, with its delivery health. */
  async list(): Promise<WebhookEndpointView[]> {
    const all = await this.all();
    const pipe = coreOf(this.store).redis.pipeline();
    for (const e of all) pipe.hgetall(coreOf(this.store).keys.webhookHealth(e.name));
    const health = ((await pipe.exec()) ?? []).map(([, h]) => (h ?? {}) as Record<string, string>);
    return all.map(({ secret: _secret, ...e }, i) => {
      const h = health[i] ?? {};
      const num = (v: string | undefined) => (v ? Number(v) : undefined);
      return {
        ...e,
        health: {
          ...(h.failingSince ? { failingSince: num(h.failingSince) } : {}),
          ...(h.lastSuccess ? { lastSuccess: num(h.lastSuccess) } : {}),
          ...(h.lastFailure ? { lastFailure: num(h.lastFailure) } : {}),
          ...(h.lastStatus ? { lastStatus: h.lastStatus } : {}),
        },
      };
    });
  }

  /** Enables or disables an endpoint (reason: 'operator', 'gone', 'failing'). False when unknown. */
  async setEnabled(name: string, enabled: boolean, reason = 'operator'): Promise<boolean> {
    const cur = await this.get(name);
    if (!cur) return false;
    const next: WebhookEndpoint = { ...cur, enabled };
    if (enabled) {
      delete next.disabledReason;
      // A fresh start: the failure window counts from the next failure.
      await coreOf(this.store).redis.hdel(coreOf(this.store).keys.webhookHealth(name), 'failingSince');
    } else next.disabledReason = reason;
    return Number(await this.write(name, JSON.stringify(next), 'exists')) === 1;
  }

  /** Removes an endpoint (its failed deliveries stay in `{webhooks}` until removed there). */
  async remove(name: string): Promise<boolean> {
    return Number(await this.write(name, '', '')) === 1;
  }

  /**
   * Records one delivery attempt's outcome. A success clears the failure window; a failure starts it
   * if it is not running. Returns when the endpoint started failing (undefined after a success).
   */
  async recordAttempt(
    name: string,
    ok: boolean,
    status: string,
    now = Date.now(),
  ): Promise<number | undefined> {
    const key = coreOf(this.store).keys.webhookHealth(name);
    if (ok) {
      await coreOf(this.store)
        .redis.multi()
        .hset(key, { lastSuccess: now, lastStatus: status })
        .hdel(key, 'failingSince')
        .exec();
      return undefined;
    }
    const replies = await coreOf(this.store)
      .redis.multi()
      .hsetnx(key, 'failingSince', now)
      .hset(key, { lastFailure: now, lastStatus: status })
      .hget(key, 'failingSince')
      .exec();
    return Number(replies?.[2]?.[1] ?? now);
  }
}
