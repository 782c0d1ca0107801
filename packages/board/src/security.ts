import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hostGuard, type Logger } from '@nightshift/shared';
import type { RedisClient, Store } from '@nightshift/store';
import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { BasicAuth, TokenAuth } from './options.js';

/**
 * Security headers on every answer. The overview page gets a strict CSP (its one script and one
 * style block carry a per-response nonce); Bull Board's UI needs inline styles (React style
 * attributes and a `<style>` in its entry page), so under `/queues` style-src allows
 * 'unsafe-inline'. Its scripts, fonts and images all come from its own static folder. The Google
 * Fonts stylesheet it links is blocked on purpose: the board makes no third-party requests
 * (the UI falls back to system fonts).
 */
export function securityHeaders(req: Request, res: Response, next: NextFunction) {
  const nonce = randomBytes(16).toString('base64');
  res.locals.nonce = nonce;
  const bullBoard = req.path === '/queues' || req.path.startsWith('/queues/');
  const styleSrc = bullBoard ? "'self' 'unsafe-inline'" : `'self' 'nonce-${nonce}'`;
  res.setHeader(
    'Content-Security-Policy',
    [
      "default-src 'self'",
      `script-src 'self' 'nonce-${nonce}'`,
      `style-src ${styleSrc}`,
      "img-src 'self' data:",
      "font-src 'self' data:",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
  // Pages and JSON carry operational data: no shared caches, no back/forward copies.
  if (!bullBoard || !req.path.includes('/static/')) res.setHeader('Cache-Control', 'no-store');
  next();
}

/** Compares two secrets in constant time (hashing first makes the lengths equal). */
function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

function parseBasic(header: string): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? null : { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** True when the request carries the configured credentials. */
function isAuthorized(header: string | undefined, auth: BasicAuth | TokenAuth): boolean {
  if (!header) return false;
  if ('token' in auth) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) return safeEqual(bearer[1]!, auth.token);
    // Browsers cannot send a bearer token: any user name with the token as password works too.
    const basic = parseBasic(header);
    return basic ? safeEqual(basic.password, auth.token) : false;
  }
  const basic = parseBasic(header);
  if (!basic) return false;
  // Both compared, always: no early exit that would tell which half was wrong.
  const userOk = safeEqual(basic.user, auth.user);
  const passOk = safeEqual(basic.password, auth.password);
  return userOk && passOk;
}

/** Who made a request, for audit lines: the basic-auth user, `token`, or `loopback` without auth. */
export interface Actor {
  actor: string;
  /** The client's address (the socket's; a reverse proxy's own, behind one). */
  client: string;
}

/** The actor of a request that passed {@link requireAuth}. */
export const actorOf = (res: Response): Actor =>
  (res.locals.actor as Actor | undefined) ?? { actor: 'anonymous', client: 'unknown' };

/** Failed logins a client may make in {@link LOGIN_WINDOW_S} before it is refused for as long. */
const LOGIN_FAILURES = 10;
/** The window (and the time a client that used it up is refused), seconds. */
const LOGIN_WINDOW_S = 15 * 60;

/** Counts failed logins per client, in Redis so every board replica sees the same count. */
export interface LoginThrottle {
  /** How long this client is still refused (0 when it may try). */
  blockedForMs(client: string): Promise<number>;
  /** Counts a failure; true when it used up the client's allowance. */
  failed(client: string): Promise<boolean>;
}

/**
 * The login throttle (rate-limiter-flexible: its Redis store counts with one Lua call per failure
 * and expires the key itself; a memory limiter stands in while Redis is unreachable). `keyPrefix`
 * is `boardLoginPrefix(prefix)`: a hash tag of its own, not the store's.
 */
export function loginThrottle(redis: RedisClient, keyPrefix: string): LoginThrottle {
  const opts = { keyPrefix, points: LOGIN_FAILURES, duration: LOGIN_WINDOW_S };
  const limiter = new RateLimiterRedis({
    ...opts,
    storeClient: redis,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(opts),
  });
  return {
    blockedForMs: async (client) => {
      const state = await limiter.get(client).catch(() => null);
      return state && state.consumedPoints > LOGIN_FAILURES ? state.msBeforeNext : 0;
    },
    failed: async (client) => {
      try {
        const counted = await limiter.consume(client);
        if (counted.consumedPoints < LOGIN_FAILURES) return false;
        // The allowance is used up: refused for a whole window from now.
        await limiter.block(client, LOGIN_WINDOW_S);
        return true;
      } catch (rejected) {
        // Over the allowance already (a concurrent failure blocked it), or neither Redis nor memory
        // could count: that does not lock anyone out.
        return rejected instanceof RateLimiterRes;
      }
    },
  };
}

/** The user name a request claims (basic auth), for the log of a failed login; never the secret. */
function claimedUser(header: string): string | undefined {
  return parseBasic(header)?.user;
}

/**
 * Requires credentials when configured; answers 401 with a basic-auth challenge otherwise. A client
 * that failed {@link LOGIN_FAILURES} times within 15 minutes is refused with 429 (and
 * `Retry-After`) before its credentials are even compared, so a right guess does not get through
 * either. Failures are logged with the client's address and whether the user name was right, never
 * with what was sent. Sets the request's {@link Actor}.
 */
export function requireAuth(
  auth: BasicAuth | TokenAuth | undefined,
  throttle: LoginThrottle,
  logger: Logger,
) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const client = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    if (!auth) {
      // Only reachable on a loopback address (resolveOptions refuses anything else).
      res.locals.actor = { actor: 'loopback', client } satisfies Actor;
      return next();
    }
    const header = req.headers.authorization;
    if (header) {
      const blockedMs = await throttle.blockedForMs(client);
      if (blockedMs > 0) {
        res.setHeader('Retry-After', String(Math.ceil(blockedMs / 1000)));
        res.status(429).json({ error: 'Too many failed logins from this address; try again later.' });
        return;
      }
      if (isAuthorized(header, auth)) {
        const actor = 'token' in auth ? 'token' : auth.user;
        res.locals.actor = { actor, client } satisfies Actor;
        return next();
      }
      const user = claimedUser(header);
      const nowBlocked = await throttle.failed(client);
      logger.warn(
        {
          client,
          scheme: /^\s*(\w+)/.exec(header)?.[1]?.toLowerCase() ?? 'unknown',
          ...('user' in auth ? { knownUser: user !== undefined && safeEqual(user, auth.user) } : {}),
          ...(nowBlocked ? { blockedForS: LOGIN_WINDOW_S } : {}),
        },
        nowBlocked ? 'board login failed; client refused for 15 min' : 'board login failed',
      );
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="Nightshift board", charset="UTF-8"');
    res.status(401).json({ error: 'Authentication required.' });
  };
}

/**
 * One audit line per mutation asked of the board (its own routes and Bull Board's): who, from
 * where, what, on which queue and job, and whether it was allowed.
 */
export function audit(
  logger: Logger,
  who: Actor,
  what: {
    action: string;
    outcome: 'allowed' | 'refused';
    queue?: string;
    job?: string;
    /** The webhook endpoint an action names. */
    endpoint?: string;
    reason?: string;
    /** For an allowed action: the HTTP status it ended with. */
    status?: number;
  },
): void {
  logger.info({ audit: true, ...who, ...what }, `board action ${what.action}: ${what.outcome}`);
}

/**
 * DNS-rebinding guard of the board: answers 421 Misdirected Request, before any route, to a request
 * whose `Host` the shared rule (`hostGuard` of @nightshift/shared, which the HTTP API applies too)
 * does not serve: not a loopback name, the listen address, or one of `allowedHosts`
 * (NIGHTSHIFT_BOARD_ALLOWED_HOSTS). The refusal carries nothing of the page (no CSRF token) and is
 * logged once per host name.
 */
export function hostCheck(opts: { allowedHosts?: readonly string[]; listenHost?: string; logger: Logger }) {
  const refused = hostGuard({ ...opts, server: 'board' });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!refused(req.headers.host, req.ip)) return next();
    res.status(421).json({
      error:
        'Misdirected request: this board does not answer to that host name (see NIGHTSHIFT_BOARD_ALLOWED_HOSTS).',
    });
  };
}

/**
 * Rejects cross-site requests. Current browsers send `Sec-Fetch-Site`, which a page cannot forge:
 * only `same-origin` passes. (It is trusted over `Origin`, which with `Referrer-Policy: no-referrer`
 * is `null` on a same-origin form post, and which a reverse proxy that rewrites `Host` would make
 * look foreign.) Without fetch metadata, `Origin` must name this board's host. Requests with
 * neither header come from scripts (curl), which no browser can be tricked into sending.
 * Returns the reason a request is refused, or null.
 */
function crossSiteReason(req: Request): string | null {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' ? null : `Sec-Fetch-Site is ${site}`;
  const origin = req.get('origin');
  if (origin === undefined) return null;
  if (origin === 'null') return 'Origin is null';
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return 'Origin is not a URL';
  }
  return host === req.get('host') ? null : `Origin ${origin} is not this board`;
}

/** Guards Bull Board's own write API: same-origin only (its UI cannot send our CSRF token). */
export function sameOriginWrites(req: Request, res: Response, next: NextFunction) {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
  const reason = crossSiteReason(req);
  if (reason) {
    res.status(403).json({ error: `Cross-site request refused (${reason}).` });
    return;
  }
  next();
}

/**
 * Guards the board's own mutating routes: same origin AND the CSRF token (one per prefix, shared by
 * every board replica, embedded in the overview page) in the `X-CSRF-Token` header or the `_csrf`
 * form field.
 */
export function requireCsrf(token: string, onRefused: (req: Request, res: Response, reason: string) => void) {
  return (req: Request, res: Response, next: NextFunction) => {
    const reason = crossSiteReason(req);
    if (reason) {
      onRefused(req, res, reason);
      res.status(403).json({ error: `Cross-site request refused (${reason}).` });
      return;
    }
    const body = req.body as Record<string, unknown> | undefined;
    const sent = req.get('x-csrf-token') ?? (typeof body?._csrf === 'string' ? body._csrf : undefined);
    if (!sent || !safeEqual(sent, token)) {
      onRefused(req, res, 'missing or wrong CSRF token');
      res.status(403).json({ error: 'Missing or wrong CSRF token: reload the board and try again.' });
      return;
    }
    next();
  };
}

/** A new random CSRF token. */
const newCsrfToken = () => randomBytes(32).toString('base64url');

/**
 * The CSRF token all board processes of one prefix share: the first to start stores a random one
 * (`SET NX`), the others read it. Replicas behind a load balancer must agree, or a page served by
 * one is refused when it posts to another. Without Redis at start-up, this process falls back to a
 * token of its own (`shared: false`), which works when it is the only replica.
 */
export async function sharedCsrfToken(store: Store): Promise<{ token: string; shared: boolean }> {
  const mine = newCsrfToken();
  try {
    const token = await store.board.csrfToken(mine);
    return token ? { token, shared: true } : { token: mine, shared: false };
  } catch {
    return { token: mine, shared: false };
  }
}
