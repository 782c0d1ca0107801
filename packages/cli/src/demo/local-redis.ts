import { execFileSync } from 'node:child_process';
import { type RedisServer, startRedisServer } from '@nightshift/testing';
import { Redis } from 'ioredis';

/** Answers whether a Redis replies to PING at `url` within a second and a half. */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1500,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
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
