import Anthropic from '@anthropic-ai/sdk';

/** What a failed `batches.create` means for the submission. */
export type CreateFailure =
  /** 413: the body is too large; nothing was created. Split and retry. */
  | { kind: 'too-large'; message: string }
  /** 400: the API refused the envelope; `index` names the offending request when the message does. */
  | { kind: 'invalid'; message: string; index?: number }
  /** 402 billing_error, or a spend-limit 429: nothing was created; stop submitting (circuit). */
  | { kind: 'billing'; message: string }
  /** 429: nothing was created; try again after a backoff. */
  | { kind: 'rate-limited'; message: string; retryAfterMs?: number }
  /** 5xx, 408, timeout, connection error, or anything unexpected: the batch may exist. Reconcile. */
  | { kind: 'ambiguous'; message: string }
  /** Another definite refusal (401, 403, 404, 409, 422…): nothing was created; back off and alert. */
  | { kind: 'refused'; message: string; status: number };

const INDEX = /\brequests[.[](\d+)/;

/** Classifies a create error by SDK class, status and error code (never by message wording, except the index). */
export function classifyCreateError(err: unknown): CreateFailure {
  if (!(err instanceof Anthropic.APIError)) {
    // Thrown by our own code or the runtime around the call: we cannot know whether the request
    // went out, so it is treated as possibly created.
    return { kind: 'ambiguous', message: (err as Error)?.message ?? String(err) };
  }
  const message = err.apiMessage ?? err.message;
  const status = err.status;
  if (err instanceof Anthropic.APIConnectionError || status === undefined)
    return { kind: 'ambiguous', message };
  if (status === 413) return { kind: 'too-large', message };
  if (status === 400) {
    const m = INDEX.exec(message);
    return m ? { kind: 'invalid', message, index: Number(m[1]) } : { kind: 'invalid', message };
  }
  if (status === 402 || err.type === 'billing_error' || isSpendLimit(err))
    return { kind: 'billing', message };
  if (status === 429) return { kind: 'rate-limited', message, ...retryAfter(err.headers) };
  if (status >= 500 || status === 408) return { kind: 'ambiguous', message };
  return { kind: 'refused', message, status };
}

function isSpendLimit(err: InstanceType<typeof Anthropic.APIError>): boolean {
  return (
    err instanceof Anthropic.EnforcedSpendLimitReachedError ||
    (err.status === 429 && typeof err.errorCode === 'string' && err.errorCode.includes('spend_limit'))
  );
}

function retryAfter(headers: Headers | undefined): { retryAfterMs?: number } {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return { retryAfterMs: ms };
  const raw = headers?.get('retry-after');
  if (!raw) return {};
  const sec = Number(raw);
  if (Number.isFinite(sec) && sec > 0) return { retryAfterMs: sec * 1000 };
  const at = Date.parse(raw);
  return Number.isFinite(at) ? { retryAfterMs: Math.max(0, at - Date.now()) } : {};
}
