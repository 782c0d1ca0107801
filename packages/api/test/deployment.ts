import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createRedis, type RedisClient, Store } from '@nightshift/store';
import { silentLogger, useRedisServer } from '@nightshift/testing';
import { startWebhooks } from '@nightshift/webhooks';
import { afterAll, beforeAll } from 'vitest';
import { createApi } from '../src/index.js';

/**
 * A deployment of services that use only the HTTP API and webhooks, on `prefix`: a batcher and a
 * collector against the emulator at `apiUrl`, a webhooks role and the API, each on a connection
 * of its own. Everything it opens is pushed on `closers` (close them last first).
 */
async function startHttpDeployment(opts: {
  redisUrl: string;
  apiUrl: string;
  prefix: string;
  closers: (() => Promise<unknown>)[];
  consumeResults?: boolean;
}) {
  const { prefix, closers } = opts;
  const conn = (purpose: 'client' | 'worker'): RedisClient => {
    const c = createRedis({ url: opts.redisUrl }, purpose);
    closers.push(() => c.quit());
    return c;
  };
  const client = new Anthropic({ apiKey: 'test-key', baseURL: opts.apiUrl });
  const roles = await Promise.all([
    startBatcher({
      connection: conn('worker'),
      prefix,
      client,
      tickMs: 150,
      maxWaitMs: 1,
      logger: silentLogger,
    }),
    startCollector({
      connection: conn('worker'),
      prefix,
      client,
      pollMs: 100,
      logUsage: false,
      logger: silentLogger,
    }),
    startWebhooks({
      connection: conn('worker'),
      prefix,
      allowPrivate: true,
      backoffMs: 100,
      ...(opts.consumeResults ? { consumeResults: true } : {}),
      logger: silentLogger,
    }),
    createApi({ connection: conn('client'), prefix, port: 0, logger: silentLogger }),
  ]);
  for (const r of roles) closers.push(() => r.close());
  // The test's own connection: its store and raw queue reads.
  const redis = conn('client');
  return { api: roles[3], store: new Store(redis, prefix), redis };
}

/**
 * A redis-server and an emulator for the test file; `start` runs a deployment on them (see
 * startHttpDeployment) and `closers` takes what a test opens besides. All of it is closed after the
 * file, last opened first.
 */
export function useHttpDeployment() {
  const fx = useRedisServer();
  let emulator: Emulator | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    emulator = await startEmulator({ quiet: true });
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await emulator?.close();
    await fx.server?.stop();
  });
  return {
    closers,
    start: (prefix: string, opts: { consumeResults?: boolean } = {}) => {
      if (!emulator) throw new Error('useHttpDeployment: start() runs inside a test');
      return startHttpDeployment({ redisUrl: fx.url, apiUrl: emulator.url, prefix, closers, ...opts });
    },
  };
}
