import { classifyApiError } from '@nightshift/shared';

/** A 404 from the API (unknown batch: propagation delay right after create, deleted, or never ours). */
export function isNotFound(err: unknown): boolean {
  return classifyApiError(err).family === 'not-found';
}

/** Any thrown value as an Error (for 'error' events). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
