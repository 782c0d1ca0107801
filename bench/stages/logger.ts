import { createLogger, type Logger } from '@nightshift/shared';

/** The library's own logger at the bench level (warn unless NIGHTSHIFT_LOG_LEVEL says otherwise). */
export function benchLogger(name: string): Logger {
  return createLogger(name, process.env.NIGHTSHIFT_LOG_LEVEL ?? 'warn');
}
