import type Anthropic from '@anthropic-ai/sdk';
import {
  type Config,
  ConfigError,
  DEFAULT_PREFIX,
  isLoopbackAddress,
  type Logger,
  type PriceTable,
  weakSecretReason,
} from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import { createRoleRegistry, type Registry, resolveListen } from '@nightshift/telemetry';
import type { Express } from 'express';

/** Basic auth: the browser asks for a user and a password. */
export interface BasicAuth {
  user: string;
  password: string;
}

/**
 * A bearer token: scripts send `Authorization: Bearer <token>`; a browser may log in with basic
 * auth using any user name and the token as password.
 */
export interface TokenAuth {
  token: string;
}

/** Options of {@link createBoard}. */
export interface BoardOptions {
  /** Redis connection (a `'client'`-purpose connection is right: requests fail rather than hang). The caller owns it. */
  connection: RedisClient;
  /**
   * Key prefix of the Nightshift deployment to show.
   * @defaultValue `'nightshift'`
   */
  prefix?: string;
  /**
   * Listen address. Any address other than a loopback one (127.0.0.0/8, ::1, localhost) needs `auth`.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /**
   * Listen port; 0 picks a free one (see {@link Board.url}).
   * @defaultValue `3000`
   */
  port?: number;
  /**
   * Credentials required on every route but `/healthz`.
   * @defaultValue `undefined` (no auth: only allowed on a loopback address)
   */
  auth?: BasicAuth | TokenAuth;
  /**
   * Viewers only: Bull Board in read-only mode, every mutating route answers 403 and the UI hides them.
   * @defaultValue `false`
   */
  readOnly?: boolean;
  /**
   * Host names (`Host` header, without port) the board answers to besides the loopback names
   * `localhost`, `127.0.0.1`, `[::1]` and its own listen address; `.example.com` admits the name
   * and its subdomains. Others get 421 before any route. Without `auth` the check always applies
   * (a DNS-rebinding page would otherwise read and act through the browser); with `auth` it applies
   * only when this list is given. See {@link hostCheck}.
   * @defaultValue `undefined`
   */
  allowedHosts?: string[];
  /**
   * Show Bull Board's Redis INFO panel (version, OS, memory) and each queue's connected clients
   * (addresses). Off, both are hidden in the UI and refused by the API.
   * @defaultValue `false`
   */
  redisDetails?: boolean;
  /**
   * Anthropic client for the "cancel batch" action; the action is hidden when absent.
   * @defaultValue `undefined`
   */
  client?: Anthropic;
  /**
   * Price table; used to flag models that have no price (their cost shows as 0).
   * @defaultValue `DEFAULT_PRICES` from `@nightshift/shared`
   */
  prices?: PriceTable;
  /**
   * Clock for ages, expiry countdowns and the cost window.
   * @defaultValue `Date.now`
   */
  now?: () => number;
  /**
   * Structured logger.
   * @defaultValue `createLogger('board')`
   */
  logger?: Logger;
  /**
   * How old the freshest heartbeat of a role may be before its liveness turns red. `nightshift-board`
   * passes 3× `NIGHTSHIFT_TICK_MS` (at least 3 × the batcher's 5 s heartbeat) and 3× `NIGHTSHIFT_POLL_MS` (collector).
   * @defaultValue `{ batcher: 180_000, collector: 180_000 }` (3 min)
   */
  staleAfterMs?: { batcher: number; collector: number };
  /**
   * The prom-client registry `/metrics` answers with; the board adds its fleet-wide metrics (read
   * from Redis at each scrape) to it and removes them on close. Pass the service's registry to
   * serve them with its own metrics.
   * @defaultValue a registry of its own with the Node process metrics (`createRoleRegistry('board')`)
   */
  metrics?: Registry;
}

/** A running board. */
export interface Board {
  /** Where it listens, e.g. `http://127.0.0.1:3000` (never with credentials). */
  url: string;
  /** The Express app (already listening). */
  app: Express;
  /** Stops listening and closes the board's queues; the Redis connection stays open (the caller owns it). Idempotent. */
  close(): Promise<void>;
}

/** The default liveness threshold: 3 minutes. */
const DEFAULT_STALE_AFTER_MS = 180_000;

/** True for addresses only this machine can reach (shared with the HTTP API). */
export const isLoopback = isLoopbackAddress;

/** Options with defaults applied, checked once at start-up. */
export interface ResolvedOptions {
  connection: RedisClient;
  prefix: string;
  host: string;
  port: number;
  auth: BasicAuth | TokenAuth | undefined;
  readOnly: boolean;
  allowedHosts: string[] | undefined;
  redisDetails: boolean;
  client: Anthropic | undefined;
  prices: PriceTable | undefined;
  now: () => number;
  staleAfterMs: { batcher: number; collector: number };
  metrics: Registry;
}

/** Applies defaults and refuses unsafe or incomplete settings with a ConfigError naming the variable to set. */
export function resolveOptions(opts: BoardOptions): ResolvedOptions {
  const auth = opts.auth;
  if (auth && 'token' in auth) {
    const weak = weakSecretReason(auth.token ?? '');
    if (weak) throw new ConfigError(`NIGHTSHIFT_BOARD_TOKEN: the board token ${weak}.`);
  }
  if (auth && 'user' in auth) {
    if (!auth.user || !auth.password) {
      throw new ConfigError(
        'NIGHTSHIFT_BOARD_USER / NIGHTSHIFT_BOARD_PASSWORD: basic auth needs both a user and a password.',
      );
    }
    const weak = weakSecretReason(auth.password, auth.user);
    if (weak) throw new ConfigError(`NIGHTSHIFT_BOARD_PASSWORD: the board password ${weak}.`);
  }
  const listen = resolveListen(
    'board',
    { host: opts.host, port: opts.port ?? 3000, allowedHosts: opts.allowedHosts },
    auth
      ? undefined
      : {
          without: 'credentials',
          enable:
            'Set NIGHTSHIFT_BOARD_USER and NIGHTSHIFT_BOARD_PASSWORD (basic auth) or NIGHTSHIFT_BOARD_TOKEN',
        },
  );
  const stale = opts.staleAfterMs ?? { batcher: DEFAULT_STALE_AFTER_MS, collector: DEFAULT_STALE_AFTER_MS };
  return {
    connection: opts.connection,
    prefix: opts.prefix ?? DEFAULT_PREFIX,
    ...listen,
    auth,
    readOnly: opts.readOnly ?? false,
    redisDetails: opts.redisDetails ?? false,
    client: opts.client,
    prices: opts.prices,
    now: opts.now ?? Date.now,
    staleAfterMs: stale,
    metrics: opts.metrics ?? createRoleRegistry('board'),
  };
}

/** How often a batcher writes its heartbeat (its `heartbeatMs` default). */
const BATCHER_HEARTBEAT_MS = 5_000;

/**
 * Every board setting of the environment, read one way for every board: `nightshift-board` and
 * the demo (`pnpm start`). The caller adds what is not a setting: the connection, the Anthropic
 * client, a logger.
 */
export function boardOptionsFromConfig(
  config: Config,
): Omit<BoardOptions, 'connection' | 'client' | 'logger'> {
  const { env } = config;
  // loadConfig has checked them: one kind only, both halves of basic auth, no weak secret.
  const {
    NIGHTSHIFT_BOARD_USER: user,
    NIGHTSHIFT_BOARD_PASSWORD: password,
    NIGHTSHIFT_BOARD_TOKEN: token,
  } = env;
  const auth = token ? { token } : user && password ? { user, password } : undefined;
  return {
    prefix: config.prefix,
    host: env.NIGHTSHIFT_BOARD_HOST,
    port: env.NIGHTSHIFT_BOARD_PORT,
    auth,
    readOnly: env.NIGHTSHIFT_BOARD_READ_ONLY,
    allowedHosts: env.NIGHTSHIFT_BOARD_ALLOWED_HOSTS,
    redisDetails: env.NIGHTSHIFT_BOARD_REDIS_DETAILS,
    prices: config.prices,
    // Three missed beats: the batcher beats every 5 s (and flushes every tick), the collector at
    // every sweep (every NIGHTSHIFT_POLL_MS).
    staleAfterMs: {
      batcher: 3 * Math.max(env.NIGHTSHIFT_TICK_MS, BATCHER_HEARTBEAT_MS),
      collector: 3 * env.NIGHTSHIFT_POLL_MS,
    },
  };
}
