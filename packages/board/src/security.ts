import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '@nightshift/store';
import type { NextFunction, Request, Response } from 'express';
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
export function safeEqual(a: string, b: string): boolean {
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
export function isAuthorized(header: string | undefined, auth: BasicAuth | TokenAuth): boolean {
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

/** Requires credentials when configured; answers 401 with a basic-auth challenge otherwise. */
export function requireAuth(auth: BasicAuth | TokenAuth | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!auth || isAuthorized(req.headers.authorization, auth)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="Nightshift board", charset="UTF-8"');
    res.status(401).json({ error: 'Authentication required.' });
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
export function crossSiteReason(req: Request): string | null {
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
export function requireCsrf(token: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const reason = crossSiteReason(req);
    if (reason) {
      res.status(403).json({ error: `Cross-site request refused (${reason}).` });
      return;
    }
    const body = req.body as Record<string, unknown> | undefined;
    const sent = req.get('x-csrf-token') ?? (typeof body?._csrf === 'string' ? body._csrf : undefined);
    if (!sent || !safeEqual(sent, token)) {
      res.status(403).json({ error: 'Missing or wrong CSRF token: reload the board and try again.' });
      return;
    }
    next();
  };
}

/** A new random CSRF token. */
export const newCsrfToken = () => randomBytes(32).toString('base64url');

/**
 * The CSRF token all board processes of one prefix share: the first to start stores a random one
 * (`SET NX`), the others read it. Replicas behind a load balancer must agree, or a page served by
 * one is refused when it posts to another. Without Redis at start-up, this process falls back to a
 * token of its own (`shared: false`), which works when it is the only replica.
 */
export async function sharedCsrfToken(
  redis: Pick<RedisClient, 'set' | 'get'>,
  key: string,
): Promise<{ token: string; shared: boolean }> {
  const mine = newCsrfToken();
  try {
    await redis.set(key, mine, 'NX');
    const token = await redis.get(key);
    return token ? { token, shared: true } : { token: mine, shared: false };
  } catch {
    return { token: mine, shared: false };
  }
}
