import { type ApiFailure, classifyApiError } from '@nightshift/shared';

/** A failed `batches.create`, classified; `requestIndex` when a 400 names the request it is about. */
export type CreateFailure = ApiFailure & { requestIndex?: number };

const INDEX = /\brequests[.[](\d+)/;

/**
 * Classifies a create error with the shared classification (SDK class, status, `error_code`), plus
 * the one reading of a message Nightshift does: a 400 without a code whose message names
 * `requests.<i>`. The API validates the envelope (count, `custom_id`, the shape of each item) when
 * the batch is created and names the item in its message, while each request's params are validated
 * later and come back as errored results (shared/anthropic-batches-api.md §3); a 400 also answers
 * a workspace spend limit (§10). So only a 400 that names an item points at a request: any other
 * refuses the call, and no request is blamed for it.
 */
export function classifyCreateError(err: unknown): CreateFailure {
  const failure = classifyApiError(err);
  if (failure.family !== 'invalid' || failure.code !== null) return failure;
  const m = INDEX.exec(failure.message);
  return m ? { ...failure, requestIndex: Number(m[1]) } : failure;
}
