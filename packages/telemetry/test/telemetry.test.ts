import { loadConfig } from '@nightshift/shared';
import { silentLogger, startRedisServer, useRedisServer, waitFor } from '@nightshift/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Counter,
  createRoleRegistry,
  defineCounter,
  linksTo,
  startMetricsServer,
  startRoleTelemetry,
  traceparentOf,
  watchRedis,
} from '../src/index.js';

const fx = useRedisServer();
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(fx.url, { maxRetriesPerRequest: null, lazyConnect: false });
});
afterAll(async () => {
  redis.disconnect();
});

describe('createRoleRegistry', () => {
  it('carries the Node process metrics and what the role is', async () => {
    const registry = createRoleRegistry('collector');
    const text = await registry.metrics();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
    ])
      expect(text).toContain(`# TYPE ${name} `);
    expect(text).toMatch(/^nightshift_info\{role="collector",version="\d+\.\d+\.\d+"\} 1$/m);
  });

  it('gives back the metric already registered under a name instead of refusing it', () => {
    const registry = createRoleRegistry('batcher');
    const a = defineCounter(registry, 'nightshift_test_total', 'help');
    expect(defineCounter(registry, 'nightshift_test_total', 'help')).toBe(a);
  });
});

describe('watchRedis', () => {
  it('measures the round trip, and counts PINGs a stopped Redis does not answer', async () => {
    const own = await startRedisServer();
    const conn = new Redis(own.url, { maxRetriesPerRequest: null });
    conn.on('error', () => undefined);
    const registry = createRoleRegistry('board');
    // A timeout well above a loaded machine's round trip: a healthy Redis must count no failure.
    const watch = watchRedis(registry, conn, { intervalMs: 50, timeoutMs: 1500 });
    const sample = async (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics())?.[1] ?? 0);
    try {
      await waitFor(async () => (await sample('nightshift_redis_roundtrip_seconds_count')) >= 3, {
        what: 'PINGs measured',
      });
      expect(await sample('nightshift_redis_ping_failures_total')).toBe(0);
      await own.stop();
      await waitFor(async () => (await sample('nightshift_redis_ping_failures_total')) >= 2, {
        what: 'failed PINGs counted',
      });
    } finally {
      watch.stop();
      conn.disconnect();
    }
  });
});

describe('startMetricsServer', () => {
  it('serves /metrics and /healthz, refuses other paths and methods, and wants the token when set', async () => {
    const registry = createRoleRegistry('batcher');
    const srv = await startMetricsServer(registry, { port: 0, token: 'tok-123' });
    try {
      expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${srv.url}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${srv.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${srv.url}/metrics`, { headers: { authorization: 'Bearer tok-123' } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('text/plain; version=0.0.4');
      expect(await ok.text()).toContain('nightshift_info{role="batcher"');
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${srv.url}/other`)).status).toBe(404);
      expect((await fetch(`${srv.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await srv.close();
      await srv.close(); // idempotent
    }
  });

  it('answers 503 when a collector fails, and stays up', async () => {
    const registry = createRoleRegistry('board');
    new Counter({
      name: 'nightshift_broken_total',
      help: 'fails',
      registers: [registry],
      collect() {
        throw new Error('Redis down');
      },
    });
    const srv = await startMetricsServer(registry, { port: 0, logger: silentLogger });
    try {
      expect((await fetch(`${srv.url}/metrics`)).status).toBe(503);
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});

describe('startRoleTelemetry', () => {
  it('measures nothing without NIGHTSHIFT_METRICS_PORT, and serves on it when set', async () => {
    const off = await startRoleTelemetry('batcher', loadConfig({}).env, { redis, logger: silentLogger });
    expect(off.registry).toBeUndefined();
    expect(off.server).toBeUndefined();
    const on = await startRoleTelemetry('batcher', loadConfig({ NIGHTSHIFT_METRICS_PORT: '0' }).env, {
      redis,
      logger: silentLogger,
    });
    try {
      const text = await (await fetch(`${on.server!.url}/metrics`)).text();
      expect(text).toContain('nightshift_redis_roundtrip_seconds');
    } finally {
      await on.close();
    }
  });

  it('refuses an invalid port at start-up, naming the variable', () => {
    expect(() => loadConfig({ NIGHTSHIFT_METRICS_PORT: '70000' })).toThrow(/NIGHTSHIFT_METRICS_PORT/);
    expect(() => loadConfig({ NIGHTSHIFT_METRICS_PORT: 'abc' })).toThrow(/NIGHTSHIFT_METRICS_PORT/);
  });

  it('says which port it could not listen on', async () => {
    const first = await startMetricsServer(createRoleRegistry('x'), { port: 0 });
    const port = new URL(first.url).port;
    try {
      await expect(
        startRoleTelemetry('collector', loadConfig({ NIGHTSHIFT_METRICS_PORT: port }).env, {
          redis,
          logger: silentLogger,
        }),
      ).rejects.toThrow(`cannot serve metrics on 127.0.0.1:${port} (NIGHTSHIFT_METRICS_PORT)`);
    } finally {
      await first.close();
    }
  });
});

describe('trace context in jobs', () => {
  it('stores nothing for a no-op span, and links back to a stored traceparent', () => {
    expect(traceparentOf(undefined)).toBeUndefined();
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const [link] = linksTo(tp);
    expect(link?.context).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    expect(linksTo('garbage')).toEqual([]);
    expect(linksTo(`00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`)).toEqual([]);
  });
});
