import { execFileSync } from 'node:child_process';
import { redactError } from '@nightshift/shared';
import { describeRedis } from '@nightshift/store';
import { type RedisServer, startRedisServer } from '@nightshift/testing';
import { Redis } from 'ioredis';

/** Redis answered, but refused our credentials: a private server would hide the mistake. */
const AUTH_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|AUTH .*without any password/i;

/**
 * Answers whether a Redis replies to PING at `url` within a second and a half. A Redis that answers
 * but refuses the password in the URL is an error of its own (thrown, named without the password).
 */
export async function redisAnswers(url: string): Promise<boolean> {
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

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
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
  if (!hasRedisServer()) {
    throw new Error(
      `no Redis answers at ${new URL(url).host} and redis-server is not installed. Fix: start Redis and set REDIS_URL, or install redis-server (apt-get install redis-server).`,
    );
  }
  let server: RedisServer;
  try {
    server = await startRedisServer();
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
