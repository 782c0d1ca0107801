/**
 * Managed Redis limits: ElastiCache Serverless refuses a command of more than 3,999 arguments,
 * Upstash a request over 10 MB. Every command the store sends while enqueueing and applying
 * thousands of items is recorded with MONITOR on a second connection (the server's own view of
 * what arrived), and each must stay within 3,999 arguments and 8 MB.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_COMMAND_ARGS, MAX_COMMAND_BYTES } from '../src/call-limits.js';
import { item, success, T0, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();

interface Seen {
  commands: number;
  maxArgs: number;
  maxBytes: number;
  /** The largest EVALSHA/EVAL calls' argument counts. */
  scriptCalls: number[];
}

let monitor: Redis;
let seen: Seen;
const MARK = 'managed-limits-mark';

beforeEach(async () => {
  seen = { commands: 0, maxArgs: 0, maxBytes: 0, scriptCalls: [] };
  monitor = await (s.redis as Redis).monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') return; // a script's own calls never cross the network
    seen.commands++;
    seen.maxArgs = Math.max(seen.maxArgs, args.length);
    seen.maxBytes = Math.max(
      seen.maxBytes,
      args.reduce((sum, a) => sum + Buffer.byteLength(a), 0),
    );
    if (/^eval/i.test(args[0] ?? '')) seen.scriptCalls.push(args.length);
  });
});

afterEach(async () => {
  await monitor.disconnect();
});

/** Waits until MONITOR has shown every command sent before (a marker goes after them). */
async function drained(): Promise<void> {
  const marked = new Promise<void>((resolve) =>
    monitor.on('monitor', (_t: string, args: string[]) => {
      if (args[1] === MARK) resolve();
    }),
  );
  await s.redis.echo(MARK);
  await marked;
}

const params = (cid: string, bytes: number) =>
  JSON.stringify({
    model: 'claude-haiku-4-5',
    max_tokens: 10,
    messages: [{ role: 'user', content: `${cid} ${'x'.repeat(bytes)}` }],
  });

describe('when 5,000 requests are enqueued, applied and redelivered', () => {
  it('sends no command of more than 3,999 arguments or 8 MB, and every item takes effect', async () => {
    const n = 5000;
    const cids = Array.from({ length: n }, (_, i) => `m-${String(i).padStart(5, '0')}`);
    const enq = await s.store.records.enqueue(
      cids.map((cid) => item(cid, { params: params(cid, 1000) })),
      { now: T0 },
    );
    expect(enq.filter((r) => r.code === 'new')).toHaveLength(n);
    const applied = await s.store.outcomes.apply(
      cids.map((cid) => success(cid, { delivery: 'res-b1-a' })),
      T0 + 1,
    );
    expect(applied.filter((r) => r.code === 'ok')).toHaveLength(n);
    const moved = await s.store.outcomes.redeliver(
      'res-b1-b',
      cids.map((cid) => ({ cid, from: 'res-b1-a' })),
    );
    expect(moved.every(Boolean)).toBe(true);
    await drained();

    expect(seen.maxArgs).toBeLessThanOrEqual(MAX_COMMAND_ARGS);
    expect(seen.maxBytes).toBeLessThanOrEqual(MAX_COMMAND_BYTES);
    // Chunks are filled close to the limit (not cut needlessly small): within one item of it (an
    // enqueue item is 14 arguments, the most of any script).
    expect(Math.max(...seen.scriptCalls)).toBeGreaterThan(MAX_COMMAND_ARGS - 14);
    expect(await s.field('m-04999', 'state')).toBe('succeeded');
    expect(await s.field('m-04999', 'dlv')).toBe('res-b1-b');
  });
});

describe('when requests of 400 KB each add up to 12 MB', () => {
  it('cuts the enqueue by bytes: each call under 8 MB, all written', async () => {
    const cids = Array.from({ length: 30 }, (_, i) => `big-${i}`);
    const enq = await s.store.records.enqueue(
      cids.map((cid) => item(cid, { params: params(cid, 400_000) })),
      { now: T0 },
    );
    expect(enq.every((r) => r.code === 'new')).toBe(true);
    await drained();
    expect(seen.maxBytes).toBeLessThanOrEqual(MAX_COMMAND_BYTES);
    expect(seen.maxBytes).toBeGreaterThan(MAX_COMMAND_BYTES / 2);
    expect(seen.scriptCalls.length).toBeGreaterThanOrEqual(2);
    expect(await s.redis.exists(...cids.map((c) => s.keys.record(c)))).toBe(30);
  });
});
