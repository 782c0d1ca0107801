import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redactError } from '@nightshift/shared';
import { describeRedis } from '@nightshift/store';
import { Redis } from 'ioredis';

/** Redis answered, but refused our credentials: a private server would hide the mistake. */
const AUTH_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|AUTH .*without any password/i;

/**
 * Answers whether a Redis replies to PING at `url` within a second and a half. A Redis that answers
 * but refuses the password in the URL is an error of its own (thrown, named without the password).
 */
async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1500,
    retryStrategy: () => null,
  });
  // A refused password arrives as an error event; connect() itself only says the connection closed.
  let refusal: unknown;
  probe.on('error', (err) => {
    refusal ??= err;
  });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch (err) {
    const message = redactError(refusal ?? err).message;
    if (AUTH_REFUSED.test(message)) {
      throw new Error(
        `Redis at ${describeRedis({ url })} refused the credentials in REDIS_URL (${message}). ` +
          'Fix: correct the password in REDIS_URL, or unset REDIS_URL to use a private redis-server.',
      );
    }
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Whether a program is installed: it runs and exits 0 when asked `args` (e.g. its version). */
export function hasProgram(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The Redis the demo uses: the one at REDIS_URL if it answers, else a private redis-server in a temp
 * dir (stopped by `stop`). Throws a one-line error with the fix when neither is possible.
 */
export async function demoRedis(
  url: string,
): Promise<{ url: string; description: string; stop: () => Promise<void> }> {
  if (await redisAnswers(url)) {
    const u = new URL(url);
    return { url, description: `Redis at ${u.hostname}:${u.port || 6379} (REDIS_URL)`, stop: async () => {} };
  }
  if (!hasProgram('redis-server', ['--version'])) {
    throw new Error(
      `no Redis answers at ${new URL(url).host} and redis-server is not installed. Fix: start Redis and set REDIS_URL, or install redis-server (apt-get install redis-server).`,
    );
  }
  let server: PrivateRedis;
  try {
    server = await startPrivateRedis();
  } catch (err) {
    throw new Error(
      `no Redis answers at ${new URL(url).host} and a private redis-server could not start (${(err as Error).message}). Fix: start Redis and set REDIS_URL.`,
    );
  }
  return {
    url: server.url,
    description: `private redis-server on 127.0.0.1:${server.port} (temp dir, stopped on exit; nothing answered at ${new URL(url).host})`,
    stop: () => server.stop(),
  };
}

interface PrivateRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/**
 * redis-server on a free loopback port with its data in a fresh temp dir, no persistence and
 * `noeviction` (as BullMQ requires); `stop` kills it and removes the dir. Started and owned by the
 * demo process only (the test harness has its own, richer one in @nightshift/testing).
 */
async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-demo-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning');
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  let failure: Error | undefined;
  child.on('error', (err) => {
    failure = err;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (!failure && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `redis://127.0.0.1:${port}`;
  const until = Date.now() + 10_000;
  while (!(await redisAnswers(url))) {
    if (failure || child.exitCode !== null || Date.now() > until) {
      await stop();
      throw new Error(failure?.message ?? `redis-server on port ${port} did not answer within 10 s`);
    }
    await sleep(50);
  }
  return { port, url, stop };
}
