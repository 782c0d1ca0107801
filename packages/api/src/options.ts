import type Anthropic from '@anthropic-ai/sdk';
import { ConfigError, DEFAULT_PREFIX, type Env, type Logger, type PriceTable } from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import { type Registry, resolveListen } from '@nightshift/telemetry';
import type { Express } from 'express';

/** Options of {@link createApi}. */
export interface ApiOptions {
  /** Redis connection (a `'client'`-purpose one: calls fail rather than hang). The caller owns it. */
  connection: RedisClient;
  /**
   * Key prefix of the Nightshift deployment.
   * @defaultValue `'nightshift'`
   */
  prefix?: string;
  /**
   * Listen address. `auth: 'none'` is refused unless it is a loopback address.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /**
   * Listen port; 0 picks a free one (see {@link Api.url}).
   * @defaultValue `3100`
   */
  port?: number;
  /**
   * `'tokens'`: every `/v1` call needs `Authorization: Bearer <token>` (`nightshift api-token create`).
   * `'none'`: no token, loopback callers only, and the `Host` header must name a loopback host or
   * one of {@link ApiOptions.allowedHosts} (a page that DNS-rebinds its name to 127.0.0.1 gets 421).
   * @defaultValue `'tokens'`
   */
  auth?: 'tokens' | 'none';
  /**
   * Host names the API answers to besides localhost, 127.0.0.1, [::1] and the listen address
   * (`.example.com` admits subdomains); any other `Host` gets 421 before any route, by the rule the
   * board applies too. Without tokens the check always applies; with tokens only when this is given.
   * @defaultValue `undefined`
   */
  allowedHosts?: string[];
  /**
   * The largest request body accepted, in bytes (413 above it).
   * @defaultValue 10 MiB
   */
  bodyLimitBytes?: number;
  /**
   * The most requests one `POST /v1/requests` may carry (413 above it).
   * @defaultValue 10_000
   */
  maxItems?: number;
  /**
   * Calls per token per minute, shared by every API replica through Redis (429 above it).
   * @defaultValue 600
   */
  rateLimitPerMinute?: number;
  /** Passed to the producer: see `ProducerOptions.deadlineSlackMs`. @defaultValue 3_600_000 */
  deadlineSlackMs?: number;
  /** Passed to the producer: see `ProducerOptions.maxRequestBytes`. @defaultValue 200_000_000 */
  maxRequestBytes?: number;
  /**
   * The SDK client for requests enqueued with `realtime: 'fallback'` whose deadline is too soon.
   * @defaultValue `new Anthropic()` on first use
   */
  client?: Anthropic;
  /**
   * The price table, which carries each model's lifecycle: a retired model is refused at enqueue
   * (`model_retired`), a deprecated one warns (see the producer's `prices`).
   * @defaultValue the built-in table (with `NIGHTSHIFT_PRICING_FILE` in `nightshift-api`)
   */
  prices?: PriceTable;
  /**
   * A prom-client registry to register the API's metrics on (`nightshift_api_*`, docs/operations.md).
   * @defaultValue undefined (nothing is measured)
   */
  metrics?: Registry;
  /** @defaultValue `createLogger('api')` */
  logger?: Logger;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

/** A running API. */
export interface Api {
  /** Where it listens, e.g. `http://127.0.0.1:3100`. */
  url: string;
  app: Express;
  /** Stops listening, waits for calls in progress; the Redis connection stays open. Idempotent. */
  close(): Promise<void>;
}

export interface ResolvedApiOptions
  extends Required<Omit<ApiOptions, 'client' | 'logger' | 'allowedHosts' | 'prices' | 'metrics'>> {
  client: Anthropic | undefined;
  allowedHosts: string[] | undefined;
  prices: PriceTable | undefined;
  metrics: Registry | undefined;
}

/** Applies defaults and refuses unsafe settings with a ConfigError naming the variable. */
export function resolveApiOptions(opts: ApiOptions): ResolvedApiOptions {
  const auth = opts.auth ?? 'tokens';
  if (auth !== 'tokens' && auth !== 'none') {
    throw new ConfigError(`NIGHTSHIFT_API_AUTH: "${String(auth)}" is neither tokens nor none.`);
  }
  const listen = resolveListen(
    'api',
    { host: opts.host, port: opts.port ?? 3100, allowedHosts: opts.allowedHosts },
    auth === 'none'
      ? {
          without: 'tokens',
          enable: 'Keep NIGHTSHIFT_API_AUTH=tokens (create tokens with `nightshift api-token create`)',
        }
      : undefined,
  );
  const positive = (v: number | undefined, def: number, name: string) => {
    const n = v ?? def;
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigError(`${name}: must be a whole number ≥ 1, got ${n}.`);
    return n;
  };
  return {
    connection: opts.connection,
    prefix: opts.prefix ?? DEFAULT_PREFIX,
    ...listen,
    auth,
    bodyLimitBytes: positive(opts.bodyLimitBytes, 10 * 1024 * 1024, 'NIGHTSHIFT_API_BODY_LIMIT_BYTES'),
    maxItems: positive(opts.maxItems, 10_000, 'NIGHTSHIFT_API_MAX_ITEMS'),
    rateLimitPerMinute: positive(opts.rateLimitPerMinute, 600, 'NIGHTSHIFT_API_RATE_LIMIT'),
    deadlineSlackMs: opts.deadlineSlackMs ?? 3_600_000,
    maxRequestBytes: opts.maxRequestBytes ?? 200_000_000,
    client: opts.client,
    prices: opts.prices,
    metrics: opts.metrics,
    now: opts.now ?? Date.now,
  };
}

/** The API's options from the validated environment (`nightshift-api`). */
export function apiOptionsFromEnv(env: Env): Omit<ApiOptions, 'connection'> {
  return {
    host: env.NIGHTSHIFT_API_HOST,
    port: env.NIGHTSHIFT_API_PORT,
    auth: env.NIGHTSHIFT_API_AUTH,
    allowedHosts: env.NIGHTSHIFT_API_ALLOWED_HOSTS,
    bodyLimitBytes: env.NIGHTSHIFT_API_BODY_LIMIT_BYTES,
    maxItems: env.NIGHTSHIFT_API_MAX_ITEMS,
    rateLimitPerMinute: env.NIGHTSHIFT_API_RATE_LIMIT,
    deadlineSlackMs: env.NIGHTSHIFT_DEADLINE_SLACK_MS,
    maxRequestBytes: env.NIGHTSHIFT_MAX_BYTES,
  };
}
