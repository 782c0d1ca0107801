/**
 * Redaction of secrets on their way to a log line or a terminal. Every path that logs a Redis
 * error or a connection URL goes through here: the logger's `err` serializer, `describeRedis` in
 * the store, and the explicit calls where the logger may be the caller's (the producer and the
 * result worker take one).
 *
 * Why errors need it: ioredis 6 authenticates with `HELLO 3 AUTH <user> <password>`, and a refused
 * password comes back as a ReplyError whose `command.args` holds the password in clear. pino's
 * default error serializer, and `console.error(err)` (BullMQ's fallback when a queue has no
 * `error` listener), print every own property of the error, `command` included.
 */

/** What stands in for a secret. */
export const REDACTED = '***';

/**
 * `scheme://user:password@` or `scheme://secret@` at the start of a URL in free text. The user-info
 * part of a URL never holds a slash, an `@` or white space.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::([^\s/@]*))?@/gi;

/**
 * The text with the credentials of every URL in it replaced: `redis://:pw@h:6379` →
 * `redis://:***@h:6379`, `rediss://app:pw@h` → `rediss://app:***@h`. A lone user-info
 * (`redis://pw@h`) is masked whole: ioredis takes it as the password.
 */
export function redactUrls(text: string): string {
  return text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string, password?: string) =>
    password === undefined ? `${scheme}${REDACTED}@` : `${scheme}${user}:${REDACTED}@`,
  );
}

/** The fields of an error that a log line may carry. */
export interface RedactedError {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: RedactedError;
}

/**
 * An error as it may be logged: its name, message, code and stack with URL credentials masked,
 * and nothing else. Every other property is dropped on purpose (ioredis' `command` with the AUTH
 * arguments, a client's `options` with its password, an SDK error's request headers).
 */
export function redactError(err: unknown, depth = 0): RedactedError {
  if (!(err instanceof Error)) return { type: typeof err, message: redactUrls(String(err)) };
  const code = (err as { code?: unknown }).code;
  const out: RedactedError = { type: err.name, message: redactUrls(err.message) };
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  if (err.stack) out.stack = redactUrls(err.stack);
  if (err.cause !== undefined && depth < 3) out.cause = redactError(err.cause, depth + 1);
  return out;
}

/**
 * A copy of an error that is safe to hand to a caller as a `cause`: same class name, code, message
 * and stack (credentials masked), none of the other properties. A service logging our error with
 * its own serializer then cannot print ioredis' AUTH arguments.
 */
export function redactedCopy(err: unknown, depth = 0): Error {
  const safe = redactError(err, 3);
  const cause = err instanceof Error && err.cause !== undefined && depth < 3 ? err.cause : undefined;
  const copy = new Error(
    safe.message,
    cause === undefined ? undefined : { cause: redactedCopy(cause, depth + 1) },
  );
  copy.name = safe.type;
  if (safe.stack) copy.stack = safe.stack;
  if (safe.code !== undefined) Object.assign(copy, { code: safe.code });
  return copy;
}
