import { useRedisServer, waitFor } from '@nightshift/testing';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Child, killAll, runBin } from './scale-helpers.js';

// A Redis that wants a password, and every role and a service given a wrong one (a typo, a
// rotated secret). ioredis authenticates with `HELLO 3 AUTH default <password>`, and the error it
// gets back carries that command, password included: every path that logs or prints the error
// must mask it. Each process's whole stdout and stderr (pino lines, BullMQ's console fallbacks,
// Node's report of an unhandled rejection) is searched for the password.
const RIGHT = 'right-Redis-PW-0c4e-1d9a';
const WRONG = 'wrong-Redis-PW-SECRET-7f3b';

const fx = useRedisServer();
let url: string;
let masked: string;

beforeAll(async () => {
  // Set after start-up: the harness's readiness check is a PING without a password.
  const admin = new Redis(fx.url);
  await admin.config('SET', 'requirepass', RIGHT);
  admin.disconnect();
  url = `redis://:${WRONG}@127.0.0.1:${fx.server.port}`;
  masked = `redis://:***@127.0.0.1:${fx.server.port}`;
});

const outputOf = (c: Child) => `${c.out.stdout}${c.out.stderr}`;

function expectNoPassword(c: Child) {
  const out = outputOf(c);
  expect(out, c.name).not.toContain(WRONG);
  expect(out, c.name).not.toContain(encodeURIComponent(WRONG));
  expect(out, c.name).not.toContain(RIGHT);
}

describe('a wrong Redis password', () => {
  it('is never printed by any role (batcher, collector, board, API, webhooks); they name Redis as redis://:***@host:port', async () => {
    const env = {
      REDIS_URL: url,
      NIGHTSHIFT_PREFIX: 'pw1',
      NIGHTSHIFT_BOARD_PORT: '0',
      NIGHTSHIFT_API_PORT: '0',
    };
    const children = [
      runBin('batcher', env),
      runBin('collector', env),
      runBin('board', env),
      runBin('api', env),
      runBin('webhooks', env),
    ];
    try {
      // Each keeps retrying (a rotated password can come back); a few refusals are enough to look at.
      await waitFor(() => children.every((c) => /WRONGPASS/.test(outputOf(c))), {
        timeoutMs: 20_000,
        what: 'every role to report the refused password',
      });
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await Promise.all(children.map((c) => c.stop()));
      await killAll(children);
    }
    for (const c of children) {
      expectNoPassword(c);
      expect(outputOf(c), c.name).toContain(masked);
    }
    // The same refusal again and again is counted, not logged every time (a retry every 0.1–2 s).
    const [batcher] = children as [Child];
    const redisErrorLines = batcher.out.stdout.split('\n').filter((l) => l.includes('"msg":"redis error"'));
    expect(redisErrorLines.length).toBeLessThanOrEqual(2);
  }, 40_000);

  it('is never printed by a service (producer and result worker) nor by the CLI and the demo', async () => {
    const env = { REDIS_URL: url, NIGHTSHIFT_PREFIX: 'pw2' };
    const children = [
      runBin('redisErrorService', env),
      runBin('cli', env, ['status']),
      runBin('cli', env, ['demo', '--quick', '--requests', '1']),
    ];
    const [service, status, demo] = children as [Child, Child, Child];
    try {
      expect(await service.exited()).toBe(3);
      expect(await status.exited()).toBe(1);
      expect(await demo.exited()).toBe(1);
    } finally {
      await killAll(children);
    }
    for (const c of children) expectNoPassword(c);
    // The enqueue's REDIS_UNAVAILABLE, printed with its cause; the producer's and the result
    // worker's own log lines.
    expect(service.out.stderr).toContain("code: 'REDIS_UNAVAILABLE'");
    expect(service.out.stderr).toMatch(/\[cause\]: Error \[ReplyError\]: WRONGPASS/);
    expect(service.out.stdout).toContain(`"name":"producer","redis":"${masked}"`);
    expect(service.out.stdout).toMatch(/"name":"result-worker".*WRONGPASS/);
    expect(status.out.stderr).toMatch(
      new RegExp(
        `^nightshift status: cannot reach Redis at ${masked.replace(/[*]/g, '\\*')}: WRONGPASS`,
        'm',
      ),
    );
    // The demo does not fall back to a private redis-server when REDIS_URL's Redis refuses the password.
    expect(demo.out.stderr).toContain(
      `nightshift demo: Redis at ${masked} refused the credentials in REDIS_URL`,
    );
  }, 60_000);
});
