import type { Logger } from './log.js';

/** What {@link safeEmit} needs of a role's typed `EventEmitter`. */
interface Emitter {
  emit(event: never, ...args: never[]): boolean;
  listenerCount(event: 'error'): number;
}

/**
 * Emits one of a role's events from a background loop without letting a listener's exception
 * escape into the loop (graphile-worker's `safeEmit`): a listener that throws is logged. An `error`
 * nobody listens to is logged as `<role> error` instead of thrown (EventEmitter would throw it).
 */
export function safeEmit(
  emitter: Emitter,
  log: Logger,
  role: string,
  event: string,
  ...args: unknown[]
): void {
  if (event === 'error' && emitter.listenerCount('error') === 0) {
    log.error({ err: (args[0] as Error | undefined)?.message }, `${role} error`);
    return;
  }
  try {
    (emitter.emit as (e: string, ...a: unknown[]) => boolean).call(emitter, event, ...args);
  } catch (err) {
    log.error({ event, err: (err as Error).message }, `a ${role} event listener threw`);
  }
}
