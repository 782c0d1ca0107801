import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createLogger, safeEmit } from '../src/index.js';

/** A real logger whose lines are kept, parsed. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('test', 'info', { write: (l: string) => lines.push(JSON.parse(l)) });
  return { log, lines };
}

describe('safeEmit', () => {
  it('delivers the event to every listener', () => {
    const { log } = capturedLogger();
    const e = new EventEmitter<{ done: [n: number] }>();
    const got: number[] = [];
    e.on('done', (n) => got.push(n));
    safeEmit(e, log, 'batcher', 'done', 7);
    expect(got).toEqual([7]);
  });

  it('logs a listener that throws instead of letting it escape', () => {
    const { log, lines } = capturedLogger();
    const e = new EventEmitter<{ done: [] }>();
    e.on('done', () => {
      throw new Error('listener bug');
    });
    expect(() => safeEmit(e, log, 'collector', 'done')).not.toThrow();
    expect(lines).toMatchObject([
      { msg: 'a collector event listener threw', event: 'done', err: 'listener bug' },
    ]);
  });

  it('logs an error event nobody listens to (EventEmitter would throw it)', () => {
    const { log, lines } = capturedLogger();
    const e = new EventEmitter<{ error: [Error] }>();
    expect(() => safeEmit(e, log, 'batcher', 'error', new Error('redis down'))).not.toThrow();
    expect(lines).toMatchObject([{ msg: 'batcher error', err: 'redis down' }]);
  });
});
