import { BUCKETS, defineCounter, defineHistogram, type Registry } from '@nightshift/telemetry';

/** The API's measurements: a no-op without a registry. */
export interface ApiInstruments {
  /** Counts and times one answered call. */
  call(method: string, route: string, status: number, seconds: number): void;
  /** Counts the items of one accepted `POST /v1/requests` by outcome (queued, exists, …). */
  enqueued(outcomes: readonly string[]): void;
}

const NONE: ApiInstruments = { call: () => undefined, enqueued: () => undefined };

/** The route templates of the API, as its OpenAPI document names them (a bounded label). */
const ROUTES: [RegExp, string][] = [
  [/^\/v1\/requests$/, '/v1/requests'],
  [/^\/v1\/requests\/[^/]+$/, '/v1/requests/{customId}'],
  [/^\/v1\/features\/[^/]+\/progress$/, '/v1/features/{feature}/progress'],
  [/^\/v1\/features\/[^/]+\/drain$/, '/v1/features/{feature}/drain'],
  [/^\/v1\/features\/[^/]+\/drain\/[^/]+$/, '/v1/features/{feature}/drain/{markId}'],
  [/^\/openapi\.json$/, '/openapi.json'],
  [/^\/healthz$/, '/healthz'],
];

/** The route template a path belongs to, or `other` (never the path: it holds ids). */
export function routeOf(path: string): string {
  return ROUTES.find(([pattern]) => pattern.test(path))?.[1] ?? 'other';
}

const METHODS = new Set(['GET', 'POST', 'DELETE', 'HEAD', 'PUT', 'PATCH', 'OPTIONS']);

/**
 * The API's metrics on the process registry (bounded labels: method, route template, status,
 * outcome; never a token, a feature or an id): calls by route and status, their duration, and the
 * requests enqueued by outcome.
 */
export function apiInstruments(registry: Registry | undefined): ApiInstruments {
  if (!registry) return NONE;
  const calls = defineCounter(
    registry,
    'nightshift_api_requests_total',
    'HTTP calls the API answered, by method, route template and status (401, 403, 413, 429, … included).',
    ['method', 'route', 'status'],
  );
  const seconds = defineHistogram(
    registry,
    'nightshift_api_request_duration_seconds',
    'Time from a call arriving to its answer being sent, by method and route template.',
    BUCKETS.http,
    ['method', 'route'],
  );
  const enqueued = defineCounter(
    registry,
    'nightshift_api_enqueued_total',
    'Requests of accepted POST /v1/requests calls, by outcome (queued, exists, replaced, realtime).',
    ['outcome'],
  );
  return {
    call: (method, route, status, s) => {
      const m = METHODS.has(method) ? method : 'other';
      calls.inc({ method: m, route, status: String(status) });
      seconds.observe({ method: m, route }, s);
    },
    enqueued: (outcomes) => {
      const by = new Map<string, number>();
      for (const o of outcomes) by.set(o, (by.get(o) ?? 0) + 1);
      for (const [outcome, n] of by) enqueued.inc({ outcome }, n);
    },
  };
}
