import {
  BudgetExceededError,
  ConflictError,
  DeadlineTooSoonError,
  type FieldIssue,
  type Logger,
  ModelRetiredError,
  NightshiftError,
  redactError,
  ValidationError,
} from '@nightshift/shared';
import type { NextFunction, Request, Response } from 'express';

/**
 * Every error code the API answers with. Codes are API: they never change meaning. Each answer is
 * `{ "error": { "code", "message", ... } }`.
 */
export const ERROR_CODES = [
  'invalid_json',
  'unsupported_media_type',
  'payload_too_large',
  'too_many_items',
  'validation_failed',
  'model_retired',
  'unknown_endpoint',
  'conflict',
  'deadline_too_soon',
  'budget_exceeded',
  'unauthorized',
  'forbidden',
  'forbidden_scope',
  'misdirected_host',
  'not_found',
  'method_not_allowed',
  'not_cancelable',
  'rate_limited',
  'redis_unavailable',
  'internal',
] as const;
export type ApiErrorCode = (typeof ERROR_CODES)[number];

/** An answer with an HTTP status, a stable code and details (issues, conflicts, …). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The issues of a single-request body carry no index. */
const issuesOf = (issues: FieldIssue[], single: boolean) =>
  issues.map((i) => (single ? { field: i.field, message: i.message } : i));

/** Turns what the producer throws into the API's answer. */
export function toApiError(err: unknown, single = false): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ModelRetiredError) {
    return new ApiError(400, 'model_retired', 'A request names a retired model; nothing was enqueued.', {
      issues: issuesOf(err.issues, single),
      retired: err.retired,
    });
  }
  if (err instanceof ValidationError) {
    return new ApiError(400, 'validation_failed', 'Invalid request; nothing was enqueued.', {
      issues: issuesOf(err.issues, single),
    });
  }
  if (err instanceof ConflictError) {
    return new ApiError(409, 'conflict', err.message, {
      conflicts: err.conflicts.map((c) => (single ? { customId: c.customId, state: c.state } : c)),
    });
  }
  if (err instanceof BudgetExceededError) {
    // 402, not 429: calling again does not help before the budget's window resets or it is raised.
    return new ApiError(402, 'budget_exceeded', err.message, {
      budget: err.budget,
      customIds: err.customIds,
    });
  }
  if (err instanceof DeadlineTooSoonError) {
    return new ApiError(422, 'deadline_too_soon', err.message, { customIds: err.customIds });
  }
  if (err instanceof NightshiftError && err.code === 'REDIS_UNAVAILABLE') {
    return new ApiError(
      503,
      'redis_unavailable',
      'Redis is not reachable; nothing was enqueued. Call again.',
    );
  }
  // body-parser's errors carry a `type` (and a 4xx status).
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') {
    return new ApiError(
      413,
      'payload_too_large',
      `The body is over the limit of ${(err as { limit?: number }).limit} bytes.`,
    );
  }
  if (type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'The body is not valid JSON.');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new ApiError(415, 'unsupported_media_type', 'Send the body as UTF-8 JSON.');
  }
  const status = (err as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(400, 'invalid_json', 'The body could not be read.');
  }
  const redisDown = /Connection is closed|max retries per request|ECONNREFUSED|ETIMEDOUT/i.test(
    String((err as Error)?.message),
  );
  if (redisDown) return new ApiError(503, 'redis_unavailable', 'Redis is not reachable. Call again.');
  return new ApiError(500, 'internal', 'Internal error; see the API’s log.');
}

/** The Express error handler: JSON always; details of a 500 go to the log only. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = toApiError(err, res.locals.single === true);
    if (e.status >= 500) {
      logger.error({ err: redactError(err), method: req.method, path: req.path }, 'api call failed');
    }
    if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="nightshift"');
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...e.details } });
  };
}
