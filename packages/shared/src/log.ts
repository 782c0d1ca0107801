import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * A structured logger. Secrets never reach it: the paths below are redacted wherever they appear.
 */
export function createLogger(
  name: string,
  level: string = process.env.NIGHTSHIFT_LOG_LEVEL ?? 'info',
): Logger {
  return pino({
    name,
    level,
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
  });
}
