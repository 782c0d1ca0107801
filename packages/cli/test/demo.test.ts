import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type RedisServer, startRedisServer } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;
let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.stop();
});

/** The README's run command, exactly as a new user types it, in its short mode. */
async function pnpmStart(env: Record<string, string>) {
  const { ANTHROPIC_API_KEY: _drop, ...rest } = process.env;
  return run('pnpm', ['start', '--requests', '30', '--quick'], {
    cwd: root,
    env: { ...rest, NIGHTSHIFT_BOARD_PORT: '0', ...env },
    timeout: 120_000,
  });
}

describe('pnpm start (the demo)', () => {
  it('runs the whole pipeline against the emulator and ends with a summary; a re-run is idempotent', async () => {
    const first = await pnpmStart({ REDIS_URL: server.url });
    expect(first.stdout).toContain('API: local emulator');
    expect(first.stdout).toContain(`Redis: Redis at 127.0.0.1:${server.port}`);
    expect(first.stdout).toMatch(/Board: http:\/\/127\.0\.0\.1:\d+/);
    expect(first.stdout).toContain('Enqueued 30 documents to classify (30 new, 0 already known).');
    expect(first.stdout).toMatch(/\[█{30}\] 30\/30/);
    const results = /results: +(\d+) succeeded, (\d+) dead-lettered/.exec(first.stdout);
    expect(Number(results?.[1]) + Number(results?.[2])).toBe(30);
    expect(first.stdout).toMatch(/batches: +[1-9]/);
    const cost = /cost: +\$([\d.]+) at batch price; real-time would have cost \$([\d.]+)/.exec(first.stdout);
    expect(Number(cost?.[1])).toBeGreaterThan(0);
    expect(Number(cost?.[2])).toBeCloseTo(Number(cost?.[1]) * 2, 3);

    const again = await pnpmStart({ REDIS_URL: server.url });
    expect(again.stdout).toContain('Enqueued 30 documents to classify (0 new, 30 already known).');
  }, 240_000);

  it('starts a private redis-server when nothing answers at REDIS_URL', async () => {
    const r = await pnpmStart({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.stdout).toContain('Redis: private redis-server');
    expect(r.stdout).toMatch(/\[█{30}\] 30\/30/);
  }, 120_000);
});
