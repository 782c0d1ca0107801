import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { createRedis, openQueue } from '@nightshift/store';
import { keepOutput, spawnTs, useRedisServer, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;
const fx = useRedisServer();

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
    const first = await pnpmStart({ REDIS_URL: fx.url });
    expect(first.stdout).toContain('API: local emulator');
    expect(first.stdout).toContain(`Redis: Redis at 127.0.0.1:${fx.server.port}`);
    expect(first.stdout).toMatch(/Board: http:\/\/127\.0\.0\.1:\d+/);
    expect(first.stdout).toContain('Enqueued 30 documents to classify (30 new, 0 already known).');
    expect(first.stdout).toMatch(/\[█{30}\] 30\/30/);
    const results = /results: +(\d+) succeeded, (\d+) dead-lettered/.exec(first.stdout);
    expect(Number(results?.[1]) + Number(results?.[2])).toBe(30);
    expect(first.stdout).toMatch(/batches: +[1-9]/);
    const cost = /cost: +\$([\d.]+) at batch price; real-time would have cost \$([\d.]+)/.exec(first.stdout);
    expect(Number(cost?.[1])).toBeGreaterThan(0);
    expect(Number(cost?.[2])).toBeCloseTo(Number(cost?.[1]) * 2, 3);

    const again = await pnpmStart({ REDIS_URL: fx.url });
    expect(again.stdout).toContain('Enqueued 30 documents to classify (0 new, 30 already known).');
  }, 240_000);

  it('starts a private redis-server when nothing answers at REDIS_URL', async () => {
    const r = await pnpmStart({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.stdout).toContain('Redis: private redis-server');
    expect(r.stdout).toMatch(/\[█{30}\] 30\/30/);
  }, 120_000);

  it('reads the board settings every board reads: read-only and token auth apply to its board', async () => {
    const token = 'demo-board-token-0123456789';
    const { ANTHROPIC_API_KEY: _drop, ...rest } = process.env;
    // Not --quick, and more documents: the run lasts while the board is probed, then is interrupted.
    // From source, as every spawned TypeScript child (without the condition it would load dist/).
    const child = spawnTs(`${root}packages/cli/src/bin.ts`, ['demo', '--requests', '200'], {
      cwd: root,
      env: {
        ...rest,
        REDIS_URL: fx.url,
        NIGHTSHIFT_PREFIX: 'demo-ro',
        NIGHTSHIFT_BOARD_PORT: '0',
        NIGHTSHIFT_BOARD_READ_ONLY: 'true',
        NIGHTSHIFT_BOARD_TOKEN: token,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = keepOutput(child);
    try {
      const url = await waitFor(() => /Board: (http:\/\/\S+)/.exec(out())?.[1], {
        timeoutMs: 60_000,
        what: `the board URL (${out()})`,
      });
      const auth = { authorization: `Bearer ${token}` };
      expect((await fetch(`${url}/`)).status).toBe(401);
      const page = await (await fetch(`${url}/`, { headers: auth })).text();
      expect(page).toContain('read-only');
      const same = { ...auth, 'sec-fetch-site': 'same-origin' };
      // The review's finding: the demo's board accepted a queue pause despite READ_ONLY.
      const pause = await fetch(`${url}/queues/api/queues/%7Bflush%7D/pause`, {
        method: 'PUT',
        headers: same,
      });
      expect(pause.status).toBe(403);
      const retry = await fetch(`${url}/api/dead-letters/retry-all`, { method: 'POST', headers: same });
      expect(retry.status).toBe(403);
      const redis = createRedis({ url: fx.url }, 'client');
      const flush = openQueue('flush', redis, 'demo-ro');
      expect(await flush.isPaused()).toBe(false);
      await flush.close();
      redis.disconnect();
    } finally {
      // A child that already exited (it failed to start) has no exit left to wait for.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await once(child, 'exit');
      }
    }
  }, 120_000);
});
