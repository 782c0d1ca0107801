import { type DestinationStream, type Logger, pino } from 'pino';
import { redactError, redactUrls } from './redact.js';

export type { Logger };

/** `err` as logged: an Error through `redactError`, a message string with URL credentials masked. */
const safeErr = (v: unknown) =>
  v instanceof Error ? redactError(v) : typeof v === 'string' ? redactUrls(v) : v;

/**
 * A structured logger. Secrets never reach it: the paths below are redacted wherever they appear,
 * and an error under `err` (or logged as the first argument) keeps only its type, code, message and
 * stack, with URL credentials masked (`redactError`: an ioredis error's `command` carries the AUTH
 * password).
 */

export function createLogger(
  name: string,
  level: string = process.env.NIGHTSHIFT_LOG_LEVEL ?? 'info',
  /** Where lines go; stdout by default. */
  destination?: DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    serializers: { err: safeErr },
    redact: {
      paths: [
        'apiKey',
        '*.apiKey',
        'password',
        '*.password',
        'headers.authorization',
        'headers["x-api-key"]',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
