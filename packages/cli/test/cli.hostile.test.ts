import { Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { useRedisServer } from '@nightshift/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { HELP } from '../src/cli.js';
import { runCliCaptured } from './helpers.js';

const fx = useRedisServer();
let n = 0;

/**
 * Runs the CLI in-process. No ANTHROPIC_* variables: a command that wrongly went on to call the API
 * would fail with exit 1, not the usage exit 2 these tests expect.
 */
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCliCaptured(args, { REDIS_URL: fx.url, NIGHTSHIFT_PREFIX: `h${++n}`, ...env });

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('unknown commands and options', () => {
  it.each([
    ['frobnicate'],
    ['STATUS'],
    ['rm', '/'],
    ['💥'],
    ['__proto__'],
    ['constructor'],
    ['status;', 'flushall'],
  ])('"%s" → exit 2, names the command and points to the usage', async (...args) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`unknown command "${args[0]}"`);
    expect(r.err).toContain('nightshift --help');
    expect(r.out).toBe('');
    noStack(r.err);
  });

  it.each([[[]], [['']]])('no command (%j) → exit 2 with the usage', async (args) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.out).toBe(HELP);
  });

  it.each([
    [['status', '--frobnicate']],
    [['batches', '--limit']],
    [['status', '--json=yes']],
    [['--__proto__', 'status']],
    [['rm', '-rf', '/']],
    [['batches', '--limit', '-1']],
    [['costs', '--days', '-7']],
  ])('%j → exit 2 with the parser’s message and a pointer to the usage', async (args) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^nightshift: [\s\S]+\nRun "nightshift --help" for usage\.$/);
    noStack(r.err);
  });
});

describe('hostile values', () => {
  it.each(['0', 'abc', '1.5', '', 'Infinity', 'NaN', '1e3', '0x10', ' 7', '+5', '99999999999999999999'])(
    'batches --limit "%s" → exit 2 naming the option',
    async (value) => {
      // A limit past 2^53 used to reach Redis and fail there ("ERR value is not an integer or out of range").
      const r = await cli(['batches', '--limit', value]);
      expect(r.code).toBe(2);
      expect(r.err).toContain('--limit must be a positive whole number');
    },
  );

  it.each(['2', '0', 'week', '7.0001'])('costs --days "%s" → exit 2', async (value) => {
    const r = await cli(['costs', '--days', value]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--days must be 1, 7 or 30');
  });

  it.each([
    ['no id', []],
    ['not a batch id', ['not-a-batch']],
    ['the bare prefix', ['msgbatch_']],
    ['a shell injection', ['msgbatch_x;rm -rf /']],
    ['a path', ['msgbatch_../../etc/passwd']],
    ['a Redis key separator', ['msgbatch_x:y']],
    ['unicode', ['msgbatch_ü']],
    ['a newline', ['msgbatch_x\nforged log line']],
    ['a command substitution', ['$(reboot)']],
    ['101 characters after the prefix', [`msgbatch_${'a'.repeat(101)}`]],
  ])('cancel with %s → exit 2, the API is never called', async (_, args) => {
    const r = await cli(['cancel', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(args.length ? /is not a batch id/ : /cancel needs a batch id/);
    noStack(r.err);
  });

  it('cancel of a well-formed batch id Nightshift does not know → exit 1, never reaches the API', async () => {
    const r = await cli(['cancel', 'msgbatch_01UnknownToNightshift']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('is not known to Nightshift');
  });

  it('retry-dead without ids → exit 2; with ids that are no dead letter → exit 1 naming them', async () => {
    expect((await cli(['retry-dead'])).code).toBe(2);
    const r = await cli(['retry-dead', '__proto__', 'a:b', 'constructor']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('No dead letter for: __proto__, a:b, constructor');
  });

  it.each([
    [['circuit', 'open'], 'circuit takes one action: close'],
    [['circuit'], 'circuit takes one action: close'],
    [['health', 'board'], 'health needs a role: batcher, collector or webhooks'],
    [['health'], 'health needs a role'],
  ])('%j → exit 2', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });
});

describe('hostile configuration', () => {
  it.each([
    [{ NIGHTSHIFT_PREFIX: 'bad prefix!' }, 'NIGHTSHIFT_PREFIX'],
    [{ NIGHTSHIFT_PREFIX: 'a:{req}' }, 'NIGHTSHIFT_PREFIX'],
    [{ NIGHTSHIFT_TICK_MS: '-5' }, 'NIGHTSHIFT_TICK_MS'],
    [{ NIGHTSHIFT_MAX_REQUESTS: '100001' }, 'NIGHTSHIFT_MAX_REQUESTS'],
    [{ NIGHTSHIFT_FROBNICATE: '1' }, 'NIGHTSHIFT_FROBNICATE: unknown setting'],
  ])('%j → exit 2 naming the variable', async (env, message) => {
    const r = await cli(['status'], env);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    noStack(r.err);
  });

  it('an unreachable Redis with a password → exit 1, and the password is in no output', async () => {
    const r = await cli(['status'], { REDIS_URL: 'redis://:s3cret-pw@127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(`${r.out}${r.err}`).not.toContain('s3cret-pw');
  });
});

describe('hostile values stored in Redis', () => {
  it('reach the terminal with their control characters escaped, in text and in --json', async () => {
    const prefix = `h${++n}`;
    const redis = new Redis(fx.url);
    const store = new Store(redis, prefix);
    const day = new Date().toISOString().slice(0, 10);
    // What an earlier version let through: ANSI escapes in a model name (clear screen, red), and a
    // bidirectional override in an alert.
    const model = '\u001b[2J\u001b[31mclaude-haiku-4-5\u009b0m';
    await redis.hset(rawStore(store).keys.ledger(day), {
      [`b|docs|${model}|n`]: 1,
      [`b|docs|${model}|cost`]: 1000,
    });
    await redis.sadd(rawStore(store).keys.ledgerDays, day);
    await store.alerts.raise({ code: 'billing', message: 'credit \u202Eevol si ecnalab' });
    const run = async (args: string[]) => {
      const r = await cli(args, { NIGHTSHIFT_PREFIX: prefix });
      return { code: r.code, text: `${r.out}\n${r.err}` };
    };
    for (const args of [['costs'], ['status'], ['costs', '--json'], ['status', '--json']]) {
      const { code, text } = await run(args);
      expect(code, args.join(' ')).toBe(0);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters.
      expect(text, args.join(' ')).not.toMatch(/[\u001b\u009b\u202e]/);
    }
    const costs = await run(['costs']);
    expect(costs.text).toContain('\\u001b[2J\\u001b[31mclaude-haiku-4-5\\u009b0m');
    // --json stays JSON with the same values.
    const json = JSON.parse((await run(['costs', '--json'])).text) as { byModel: { model: string }[] };
    expect(json.byModel.map((m) => m.model)).toEqual([model]);
    redis.disconnect();
  });
});
