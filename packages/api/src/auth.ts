import { type ApiTokenRecord, apiRateLimitPrefix, type Logger, redactError } from '@nightshift/shared';
import { ApiTokens, type RedisClient, type Store, scopeAllows } from '@nightshift/store';
import type { NextFunction, Request, Response } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from './errors.js';

/** The caller of one call: a token's record, or null for an API without tokens (full scope). */
const callerOf = (res: Response): ApiTokenRecord | null => res.locals.token ?? null;

/** True when the caller may touch this feature (and partition). */
export function allowed(res: Response, feature: string, partition?: string): boolean {
  const token = callerOf(res);
  return token === null || scopeAllows(token, feature, partition);
}

/**
 * `Authorization: Bearer <token>`: looked up by its SHA-256 (one HGET). A missing, malformed,
 * unknown or revoked token gets the same 401, so the answer tells nothing about which.
 */
export function requireToken(store: Store) {
  const tokens = new ApiTokens(store);
  return async (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const record = m ? await tokens.verify(m[1]!) : null;
    if (!record) {
      return next(
        new ApiError(401, 'unauthorized', 'Send a valid API token: Authorization: Bearer <token>.'),
      );
    }
    res.locals.token = record;
    next();
  };
}

/**
 * Per-token rate limit, a fixed window of one minute counted in Redis by rate-limiter-flexible: one
 * atomic script per call on a key of the token, so every API replica shares the same budget (a
 * limit kept in each process's memory would multiply with the replicas). A Redis error answers
 * 503: calls would fail on Redis anyway.
 */
export function rateLimit(redis: RedisClient, prefix: string, perMinute: number, logger: Logger) {
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: apiRateLimitPrefix(prefix),
    points: perMinute,
    duration: 60,
  });
  return async (_req: Request, res: Response, next: NextFunction) => {
    const key = callerOf(res)?.id ?? 'loopback';
    try {
      const r = await limiter.consume(key, 1);
      res.setHeader('RateLimit-Limit', perMinute);
      res.setHeader('RateLimit-Remaining', r.remainingPoints);
      next();
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        res.setHeader('Retry-After', seconds);
        return next(
          new ApiError(
            429,
            'rate_limited',
            `More than ${perMinute} calls in a minute; retry in ${seconds} s.`,
          ),
        );
      }
      logger.warn({ err: redactError(err) }, 'rate limiter could not reach Redis');
      next(new ApiError(503, 'redis_unavailable', 'Redis is not reachable. Call again.'));
    }
  };
}
