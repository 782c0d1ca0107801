import { hostGuard, isLoopbackAddress, type Logger } from '@nightshift/shared';
import type { NextFunction, Request, Response } from 'express';
import { ApiError } from './errors.js';

/**
 * The DNS-rebinding guard, before any route: the Host rule the board applies too (`hostGuard` of
 * @nightshift/shared): a `Host` that is not a loopback name, the listen address or one of
 * `allowedHosts` (NIGHTSHIFT_API_ALLOWED_HOSTS) gets 421 `misdirected_host`. A web page whose own
 * name now resolves to 127.0.0.1 can reach the port, but its requests still carry its own name as
 * Host. Each refused name is logged once.
 */
export function hostCheck(opts: { allowedHosts?: readonly string[]; listenHost?: string; logger: Logger }) {
  const refused = hostGuard({ ...opts, server: 'API' });
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!refused(req.headers.host, req.socket.remoteAddress)) return next();
    next(
      new ApiError(
        421,
        'misdirected_host',
        'Misdirected request: this API does not answer to that host name (see NIGHTSHIFT_API_ALLOWED_HOSTS).',
      ),
    );
  };
}

/** For an API without tokens: only loopback callers (their Host is checked by {@link hostCheck}). */
export function requireLoopback(req: Request, _res: Response, next: NextFunction) {
  if (!isLoopbackAddress(req.socket.remoteAddress ?? '')) {
    return next(new ApiError(403, 'forbidden', 'Without tokens the API answers loopback callers only.'));
  }
  next();
}
