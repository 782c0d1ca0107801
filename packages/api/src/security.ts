import { hostOfHeader, isLoopbackAddress } from '@nightshift/shared';
import type { NextFunction, Request, Response } from 'express';
import { ApiError } from './errors.js';

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
