import { fileURLToPath } from 'node:url';
import { createRedis, type RedisClient } from '@nightshift/store';
import { freePort, runSourceBin, uniquePrefix, useRedisServer, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, type Seeded, seed } from './helpers.js';

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));

const REDIS_PASSWORD = 'redisPw-SECRET-4b1d9e';
// A fake key (not in the real key format, so secret scanners stay quiet); the test checks it never appears.
const API_KEY = 'test-api-key-SECRET-do-not-show-8c2f7a';
const BOARD_PASSWORD = 'boardPw-SECRET-77e0';
const SECRETS = [REDIS_PASSWORD, API_KEY, BOARD_PASSWORD];

const fx = useRedisServer();
let redis: RedisClient;
let redisUrl: string;

beforeAll(async () => {
  // The harness pings without a password, so the password is set once Redis is up.
  const admin = createRedis({ url: fx.url }, 'client');
  await admin.config('SET', 'requirepass', REDIS_PASSWORD);
  admin.disconnect();
  redisUrl = `redis://:${REDIS_PASSWORD}@127.0.0.1:${fx.server.port}`;
  redis = createRedis({ url: redisUrl }, 'client');
});
afterAll(async () => {
  await redis.quit();
});

/** Runs `nightshift-board` with `env` (on top of PATH only: the test's own environment stays out). */
const runBin = (env: Record<string, string>) => runSourceBin(BIN, env, { name: 'board' });

describe('nightshift-board', () => {
  let seeded: Seeded;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    seeded = await seed(redis, prefix, Date.now());
  });
  afterAll(async () => {
    await seeded.deadLetters.close();
  });

  it('never shows the Redis password, the API key or the board password, and stops on SIGTERM', async () => {
    const port = await freePort();
    const { child, out, stop } = runBin({
      REDIS_URL: redisUrl,
      ANTHROPIC_API_KEY: API_KEY,
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      NIGHTSHIFT_PREFIX: prefix,
      NIGHTSHIFT_BOARD_PORT: String(port),
      NIGHTSHIFT_BOARD_USER: 'ops',
      NIGHTSHIFT_BOARD_PASSWORD: BOARD_PASSWORD,
      // Redis INFO and client lists shown too, so that they are searched for secrets as well.
      NIGHTSHIFT_BOARD_REDIS_DETAILS: 'true',
      NIGHTSHIFT_LOG_LEVEL: 'debug',
    });
    try {
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out.stdout)?.[1], {
        what: `the board to print its URL (stderr: ${out.stderr})`,
        // tsx compiles the whole import graph first: slow on a loaded 2-core machine.
        timeoutMs: 60_000,
      });
      expect(url).toBe(`http://127.0.0.1:${port}`);
      const auth = { authorization: basic('ops', BOARD_PASSWORD) };
      const pages = [
        '/',
        '/?days=30',
        '/api/overview?fragments=1',
        '/api/batches',
        '/api/costs?days=30',
        '/api/dead-letters',
        '/api/requests',
        '/metrics',
        '/healthz',
        '/queues',
        '/queues/api/queues',
        '/queues/api/redis/stats',
        '/queues/api/queues/%7Bdead-letters%7D/dead-c3-1',
        '/queues/api/queues/%7Bdead-letters%7D/workers',
        '/nope',
      ];
      for (const path of pages) {
        const res = await fetch(`${url}${path}`, { headers: auth });
        expect(res.status, path).toBe(path === '/nope' ? 404 : 200);
        const text = `${JSON.stringify([...res.headers])}\n${await res.text()}`;
        for (const secret of SECRETS) expect(text, `${path} shows a secret`).not.toContain(secret);
      }
      // The cancel action exists (a client was made from ANTHROPIC_API_KEY), and an unauthenticated answer is bare.
      expect(await (await fetch(`${url}/`, { headers: auth })).text()).toContain(
        `/api/batches/${seeded.batchId}/cancel`,
      );
      const denied = await fetch(`${url}/`);
      expect(denied.status).toBe(401);
      expect(await stop()).toBe(0);
      for (const secret of SECRETS) {
        expect(out.stdout, 'stdout').not.toContain(secret);
        expect(out.stderr, 'stderr').not.toContain(secret);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses to listen on 0.0.0.0 without credentials', async () => {
    const { exited, out } = runBin({
      REDIS_URL: redisUrl,
      NIGHTSHIFT_PREFIX: prefix,
      NIGHTSHIFT_BOARD_HOST: '0.0.0.0',
      NIGHTSHIFT_BOARD_PORT: String(await freePort()),
    });
    expect(await exited()).toBe(1);
    expect(out.stderr).toMatch(
      /NIGHTSHIFT_BOARD_USER and NIGHTSHIFT_BOARD_PASSWORD .* or NIGHTSHIFT_BOARD_TOKEN/,
    );
    expect(out.stderr).not.toContain(REDIS_PASSWORD);
  }, 120_000);
});
