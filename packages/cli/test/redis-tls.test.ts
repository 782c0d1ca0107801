import { rmSync } from 'node:fs';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { connectionFromEnv, describeRedis } from '@nightshift/store';
import { freePort } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';
import {
  type Child,
  e2eEnv,
  hasOpenssl,
  killAll,
  makeCerts,
  runBin,
  startTlsRedis,
  type TestCerts,
  type TlsRedis,
  workload,
} from './scale-helpers.js';

// `rediss://` with a password, for real: a redis-server that speaks only TLS, a throwaway CA made
// with openssl, and the roles configured through REDIS_URL plus Node's own NODE_EXTRA_CA_CERTS
// (no Nightshift setting and no code: Node adds that CA to every TLS connection it makes).
const PASSWORD = 'tls-Redis-PW-SECRET-91f3';
const OPENSSL = hasOpenssl();
if (!OPENSSL) {
  console.warn('redis-tls.test.ts: skipped, openssl is not on PATH (needed to make a throwaway CA)');
}

let certs: TestCerts;
let redis: TlsRedis;
let emu: Emulator;

beforeAll(async () => {
  if (!OPENSSL) return;
  certs = makeCerts();
  redis = await startTlsRedis(certs, PASSWORD);
  emu = await startEmulator({ quiet: true });
}, 30_000);
afterAll(async () => {
  await emu?.close();
  await redis?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

const cli = async (env: NodeJS.ProcessEnv, args: string[]) => {
  const { code, all } = await runCliCaptured(args, env);
  return { code, output: all };
};

describe.skipIf(!OPENSSL)('rediss:// with TLS and a password', () => {
  it('runs the pipeline (bins and a service) with only REDIS_URL and NODE_EXTRA_CA_CERTS; the password is never printed', async () => {
    const w = workload('tls');
    w.inject(emu);
    const env = {
      REDIS_URL: redis.url,
      NODE_EXTRA_CA_CERTS: certs.ca,
      ...e2eEnv(emu, 'tls1'),
      // Everything the roles can say, so that a leak would show.
      NIGHTSHIFT_LOG_LEVEL: 'debug',
    };
    const children: Child[] = [
      runBin('batcher', env),
      runBin('collector', env),
      runBin('service', env, [JSON.stringify({ tag: 'tls' })]),
    ];
    const [batcher, collector, service] = children as [Child, Child, Child];
    const explain = () => children.map((c) => `[${c.name}] ${c.out.stderr}\n${c.out.stdout}`).join('\n');
    try {
      expect(await service.exited(), explain()).toBe(0);
      const line = /^SERVICE (.+)$/m.exec(service.out.stdout)?.[1];
      const summary = JSON.parse(line!) as { delivered: string[]; retryAttempt: number; dead: string };
      expect(summary.delivered).toEqual([...w.delivered].sort());
      expect(summary.retryAttempt).toBe(2);
      expect(summary.dead).toContain('invalid_request_error');
      expect(await batcher.stop()).toBe(0);
      expect(await collector.stop()).toBe(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${explain()}`, { cause: err });
    } finally {
      await killAll(children);
    }
    // Where Redis is, is logged (without the password); the password itself never is.
    expect(batcher.out.stdout).toContain(`"redis":"rediss://:***@127.0.0.1:${redis.port}"`);
    for (const c of children) {
      expect(`${c.out.stdout}${c.out.stderr}`).not.toContain(PASSWORD);
      expect(`${c.out.stdout}${c.out.stderr}`).not.toContain(encodeURIComponent(PASSWORD));
    }
  }, 60_000);

  it('names the problem without the password: an untrusted certificate, a wrong password', async () => {
    const base = { NIGHTSHIFT_PREFIX: 'tls2' };
    expect(describeRedis(connectionFromEnv({ REDIS_URL: redis.url }))).toBe(
      `rediss://:***@127.0.0.1:${redis.port}`,
    );
    expect(
      describeRedis(connectionFromEnv({ REDIS_URL: redis.url, NIGHTSHIFT_REDIS_CLUSTER_NODES: 'a:1,b:2' })),
    ).toBe('Redis Cluster a:1,b:2');

    // This test process has no NODE_EXTRA_CA_CERTS: the CLI fails on the certificate, and says so.
    const untrusted = await cli({ ...base, REDIS_URL: redis.url }, ['status']);
    expect(untrusted.code).toBe(1);
    expect(untrusted.output).toContain(`cannot reach Redis at rediss://:***@127.0.0.1:${redis.port}: `);
    expect(untrusted.output).toMatch(/certificate/);
    expect(untrusted.output).not.toContain(PASSWORD);

    // With the CA but a wrong password (the bin, so that NODE_EXTRA_CA_CERTS applies).
    const wrong = 'Wrong-PW-SECRET-5d2a';
    const bin = runBin(
      'cli',
      { ...base, REDIS_URL: redis.url.replace(PASSWORD, wrong), NODE_EXTRA_CA_CERTS: certs.ca },
      ['status'],
    );
    expect(await bin.exited()).toBe(1);
    const output = `${bin.out.stdout}${bin.out.stderr}`;
    // ioredis already fails the command with Redis' own answer, which is clear enough.
    expect(output).toMatch(
      /^nightshift status: cannot reach Redis at rediss:\/\/:\*\*\*@127.0.0.1:\d+: WRONGPASS/m,
    );
    expect(output).not.toContain(wrong);
    expect(output).not.toContain(PASSWORD);
  }, 60_000);
});

describe('a Redis that cannot be reached', () => {
  it('is named (without the password) with the cause, not only "max retries"', async () => {
    const port = await freePort();
    const { code, output } = await cli({ REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}` }, ['status']);
    expect(code).toBe(1);
    expect(output).toContain(`nightshift status: cannot reach Redis at redis://:***@127.0.0.1:${port}: `);
    expect(output).toContain('ECONNREFUSED');
    expect(output).not.toContain(PASSWORD);
  });
});
