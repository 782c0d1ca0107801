import { describe, expect, it } from 'vitest';
import { createLogger, redactError, redactedCopy, redactUrls } from '../src/index.js';

describe('redactUrls', () => {
  it('masks the password of every URL in a text, keeps user, host and port', () => {
    expect(redactUrls('at redis://:pw@10.0.0.5:6379 and rediss://app:p%40ss@h:6380/0 ok')).toBe(
      'at redis://:***@10.0.0.5:6379 and rediss://app:***@h:6380/0 ok',
    );
    // A lone user-info is what ioredis takes as the password: masked whole.
    expect(redactUrls('redis://secret@h:6379')).toBe('redis://***@h:6379');
    expect(redactUrls('redis://h:6379 has no credentials')).toBe('redis://h:6379 has no credentials');
  });
});

describe('redactError', () => {
  // What ioredis 6 answers to a wrong password: the HELLO command, password included.
  const refusal = () =>
    Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      name: 'ReplyError',
      command: { name: 'hello', args: ['3', 'AUTH', 'default', 'pw-SECRET'] },
    });

  it('keeps type, message and stack, drops every other property', () => {
    const safe = redactError(new Error('outer redis://:pw-SECRET@h:1', { cause: refusal() }));
    expect(JSON.stringify(safe)).not.toContain('pw-SECRET');
    expect(safe.message).toBe('outer redis://:***@h:1');
    expect(safe.cause?.type).toBe('ReplyError');
    expect(safe.cause?.message).toContain('WRONGPASS');
  });

  it('makes a copy fit to be a cause: Node prints it without the AUTH arguments', async () => {
    const { inspect } = await import('node:util');
    const copy = redactedCopy(refusal());
    expect(copy.name).toBe('ReplyError');
    expect(inspect(copy)).not.toContain('pw-SECRET');
    expect(inspect(copy)).toContain('WRONGPASS');
  });

  it('is what our logger does with `err`, whatever logs it', () => {
    const lines: string[] = [];
    const logger = createLogger('redact-test', 'info', { write: (s: string) => void lines.push(s) });
    logger.warn({ err: refusal() }, 'redis error');
    logger.error(refusal());
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l).toContain('WRONGPASS');
      expect(l).not.toContain('pw-SECRET');
    }
  });
});
