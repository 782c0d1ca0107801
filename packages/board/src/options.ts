import type Anthropic from '@anthropic-ai/sdk';
import {
  ConfigError,
  DEFAULT_PREFIX,
  isLoopbackAddress,
  type Logger,
  type PriceTable,
} from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
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
   * passes 3× `NIGHTSHIFT_TICK_MS` (batcher) and 3× `NIGHTSHIFT_POLL_MS` (collector).
   * @defaultValue `{ batcher: 180_000, collector: 180_000 }` (3 min)
   */
  staleAfterMs?: { batcher: number; collector: number };
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
export const DEFAULT_STALE_AFTER_MS = 180_000;

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
  client: Anthropic | undefined;
  prices: PriceTable | undefined;
  now: () => number;
  staleAfterMs: { batcher: number; collector: number };
}

/** Applies defaults and refuses unsafe or incomplete settings with a ConfigError naming the variable to set. */
export function resolveOptions(opts: BoardOptions): ResolvedOptions {
  const host = opts.host ?? '127.0.0.1';
  const auth = opts.auth;
  if (auth && 'token' in auth && !auth.token) {
    throw new ConfigError('NIGHTSHIFT_BOARD_TOKEN: the board token must not be empty.');
  }
  if (auth && 'user' in auth && (!auth.user || !auth.password)) {
    throw new ConfigError(
      'NIGHTSHIFT_BOARD_USER / NIGHTSHIFT_BOARD_PASSWORD: basic auth needs both a user and a password.',
    );
  }
  if (!auth && !isLoopback(host)) {
    throw new ConfigError(
      `The board would listen on ${host}, which other machines can reach, without credentials. ` +
        'Set NIGHTSHIFT_BOARD_USER and NIGHTSHIFT_BOARD_PASSWORD (basic auth) or NIGHTSHIFT_BOARD_TOKEN, ' +
        'or listen on 127.0.0.1 (NIGHTSHIFT_BOARD_HOST).',
    );
  }
  const port = opts.port ?? 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`NIGHTSHIFT_BOARD_PORT: ${port} is not a port number (0–65535).`);
  }
  const stale = opts.staleAfterMs ?? { batcher: DEFAULT_STALE_AFTER_MS, collector: DEFAULT_STALE_AFTER_MS };
  return {
    connection: opts.connection,
    prefix: opts.prefix ?? DEFAULT_PREFIX,
    host,
    port,
    auth,
    readOnly: opts.readOnly ?? false,
    client: opts.client,
    prices: opts.prices,
    now: opts.now ?? Date.now,
    staleAfterMs: stale,
  };
}

/** Credentials from `NIGHTSHIFT_BOARD_*`; both kinds at once is a ConfigError. */
export function authFromEnv(env: {
  NIGHTSHIFT_BOARD_USER?: string | undefined;
  NIGHTSHIFT_BOARD_PASSWORD?: string | undefined;
  NIGHTSHIFT_BOARD_TOKEN?: string | undefined;
}): BasicAuth | TokenAuth | undefined {
  const {
    NIGHTSHIFT_BOARD_USER: user,
    NIGHTSHIFT_BOARD_PASSWORD: password,
    NIGHTSHIFT_BOARD_TOKEN: token,
  } = env;
  if (token && user) {
    throw new ConfigError(
      'Set either NIGHTSHIFT_BOARD_TOKEN or NIGHTSHIFT_BOARD_USER/NIGHTSHIFT_BOARD_PASSWORD, not both.',
    );
  }
  if (token) return { token };
  if (user && password) return { user, password };
  return undefined;
}
