import { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';

/** A 404 from the API (unknown batch: propagation delay right after create, deleted, or never ours). */
export function isNotFound(err: unknown): boolean {
  return err instanceof APIError && err.status === 404;
}

/**
 * An answer that says the request itself is wrong: sending it again cannot succeed. Everything else
 * (5xx, 408/409/429, 402 billing, connection errors, timeouts, a stream cut mid-way) may pass later.
 */
export function isDefinitive(err: unknown): boolean {
  if (!(err instanceof APIError) || err instanceof APIConnectionError || err instanceof APIUserAbortError) {
    return false;
  }
  return (
    err.status === 400 ||
    err.status === 401 ||
    err.status === 403 ||
    err.status === 404 ||
    err.status === 413 ||
    err.status === 422
  );
}

/** The error as `{ type, message }` for records and dead letters; SDK errors keep the API's type. */
export function describeError(err: unknown): { type: string; message: string } {
  if (err instanceof APIError) {
    const body = err.error as { error?: { type?: string; message?: string } } | undefined;
    return {
      type: body?.error?.type ?? err.type ?? (err.status ? `http_${err.status}` : 'connection_error'),
      message: body?.error?.message ?? err.message,
    };
  }
  return { type: 'client_error', message: err instanceof Error ? err.message : String(err) };
}

/** Any thrown value as an Error (for 'error' events). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
