import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { ApiError } from './errors.js';

/**
 * True for addresses only this machine can reach (127.0.0.0/8, ::1, ::ffff:127.x, localhost).
 * Written to be shared: the board's listen check and Host check (#20) are the same rule.
 */
export function isLoopbackAddress(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** The host part of a Host header (`name`, `name:port`, `[v6]:port`), or null when malformed. */
export function hostOfHeader(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(header.trim());
  return m ? m[1]! : null;
}

/**
 * For an API without tokens: only loopback callers, and only with a Host header that names a
 * loopback host. The second check stops DNS rebinding: a web page whose own name now resolves to
 * 127.0.0.1 can reach the port, but its requests still carry its own name as Host.
 */
export function requireLoopback(req: Request, _res: Response, next: NextFunction) {
  const peer = req.socket.remoteAddress ?? '';
  if (!isLoopbackAddress(peer)) {
    return next(new ApiError(403, 'forbidden', 'Without tokens the API answers loopback callers only.'));
  }
  const host = hostOfHeader(req.headers.host);
  if (!host || !isLoopbackAddress(host)) {
    return next(
      new ApiError(
        403,
        'forbidden_host',
        'The Host header must name a loopback host (localhost, 127.0.0.1, [::1]) when the API runs without tokens.',
      ),
    );
  }
  next();
}
