import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Emulator } from '@nightshift/emulator';
import type { EnqueueRequest, Producer } from '@nightshift/producer';
import { QUEUES } from '@nightshift/shared';
import type { Store } from '@nightshift/store';
import { freePort, type RedisCluster, runSourceBin, type SourceChild, waitFor } from '@nightshift/testing';
import { Redis } from 'ioredis';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The role bins, each in its own process as a deployment runs them (from source here). */
export const BINS = {
  batcher: fileURLToPath(new URL('../../batcher/src/bin.ts', import.meta.url)),
  collector: fileURLToPath(new URL('../../collector/src/bin.ts', import.meta.url)),
  board: fileURLToPath(new URL('../../board/src/bin.ts', import.meta.url)),
  api: fileURLToPath(new URL('../../api/src/bin.ts', import.meta.url)),
  webhooks: fileURLToPath(new URL('../../webhooks/src/bin.ts', import.meta.url)),
  cli: fileURLToPath(new URL('../src/bin.ts', import.meta.url)),
  service: fileURLToPath(new URL('./fixtures/service.ts', import.meta.url)),
  redisErrorService: fileURLToPath(new URL('./fixtures/redis-error-service.ts', import.meta.url)),
} as const;

/**
 * The timings of an end-to-end run, as options of the roles started in the test's process: the
 * batcher ticks often and flushes as soon as a request waits; the collector polls often, retries
 * soon after an error and logs no usage lines.
 */
export const E2E_BATCHER = { tickMs: 150, maxWaitMs: 1 } as const;
/** See {@link E2E_BATCHER}. */
export const E2E_COLLECTOR = { pollMs: 100, retryBackoffMs: 50, logUsage: false } as const;

/** The environment of the role bins (and a service) of an end-to-end run on `prefix` against `emu`, with the timings of {@link E2E_BATCHER}. */
export function e2eEnv(emu: Emulator, prefix: string) {
  return {
    NIGHTSHIFT_PREFIX: prefix,
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: emu.url,
    NIGHTSHIFT_TICK_MS: String(E2E_BATCHER.tickMs),
    NIGHTSHIFT_MAX_WAIT_MS: String(E2E_BATCHER.maxWaitMs),
    NIGHTSHIFT_POLL_MS: String(E2E_COLLECTOR.pollMs),
    NIGHTSHIFT_RETRY_BACKOFF_MS: String(E2E_COLLECTOR.retryBackoffMs),
  };
}

/** A child process whose output is kept (to assert on it and to explain failures). */
export type Child = SourceChild;

/** Starts a bin with `env` on top of PATH only (see {@link runSourceBin}). */
export const runBin = (name: keyof typeof BINS, env: Record<string, string>, args: string[] = []): Child =>
  runSourceBin(BINS[name], env, { args, name });

/** Kills whatever is still running (after a failed assertion) without waiting for graceful exit. */
export async function killAll(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.child.exitCode !== null || c.child.signalCode !== null) return;
      c.child.kill('SIGKILL');
      await once(c.child, 'exit');
    }),
  );
}

/**
 * The end-to-end workload of one run: `ok` plain requests, one that the API fails once with
 * `overloaded_error` (retried, then delivered at attempt 2) and one it refuses with
 * `invalid_request_error` (dead-lettered at once). Custom ids carry `tag`, so runs sharing one
 * emulator do not meet each other's injected outcomes.
 */
export function workload(tag: string, ok = 10) {
  const ids = {
    ok: Array.from({ length: ok }, (_, i) => `${tag}-ok-${i}`),
    retry: `${tag}-retry`,
    dead: `${tag}-dead`,
  };
  const all = [...ids.ok, ids.retry, ids.dead];
  const requests: EnqueueRequest[] = all.map((customId) => ({
    customId,
    feature: 'scale-e2e',
    metadata: { customId },
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: `Label document ${customId}` }],
    },
  }));
  /** Tells the emulator to fail the retry request once and the dead one for good. */
  const inject = (emu: Emulator) => {
    emu.control.injectOutcome({
      match: new RegExp(`^${ids.retry}$`),
      outcome: 'errored',
      errorType: 'overloaded_error',
      message: 'Overloaded',
      times: 1,
    });
    emu.control.injectOutcome({
      match: new RegExp(`^${ids.dead}$`),
      outcome: 'errored',
      errorType: 'invalid_request_error',
      message: 'messages: bad request',
    });
  };
  /** Every custom_id that should end delivered as a result. */
  const delivered = [...ids.ok, ids.retry];
  return { ids, all, requests, inject, delivered };
}

/** Hash tags of ours: one per queue, `{req}` for the store. */
export const OUR_TAGS = new Set(['req', ...Object.values(QUEUES).map((q) => q.slice(1, -1))]);

/** Redis Cluster's hash tag rule: the text between the first `{` and the first `}` after it, if non-empty. */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return null;
  return key.slice(open + 1, close);
}

/** What each master of the cluster holds, read straight from that node (no cluster routing). */
export interface NodeKeys {
  port: number;
  /** Slot ranges this node serves, from CLUSTER SLOTS. */
  ranges: [number, number][];
  keys: { key: string; slot: number }[];
}

/** Scans every key on every master and asks the node for each key's slot. */
export async function keysByNode(cluster: RedisCluster, password?: string): Promise<NodeKeys[]> {
  const out: NodeKeys[] = [];
  for (const node of cluster.nodes) {
    const r = new Redis(node.url, { maxRetriesPerRequest: 1, ...(password ? { password } : {}) });
    try {
      const myId = String(await r.call('CLUSTER', 'MYID'));
      const slots = (await r.call('CLUSTER', 'SLOTS')) as [number, number, ...[string, number, string][]][];
      const ranges = slots
        .filter(([, , master]) => master?.[2] === myId)
        .map(([from, to]) => [from, to] as [number, number]);
      const keys: { key: string; slot: number }[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await r.scan(cursor, 'COUNT', 1000);
        cursor = next;
        for (const key of batch) {
          keys.push({ key, slot: Number(await r.call('CLUSTER', 'KEYSLOT', key)) });
        }
      } while (cursor !== '0');
      out.push({ port: node.port, ranges, keys });
    } finally {
      r.disconnect();
    }
  }
  return out;
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export interface TestCerts {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** Whether `openssl` is on PATH (the TLS tests skip, saying why, when it is not). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes a CA and a server certificate signed by it (EC P-256, valid one day) in a temp dir. */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-tls-'));
  const at = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=nightshift test CA',
  );
  ssl('req', ...ec, '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=localhost');
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'redis.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'redis.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  );
  return { dir, ca: at('ca.crt'), cert: at('redis.crt'), key: at('redis.key') };
}

/** A redis-server that speaks only TLS (`--port 0`) and wants a password. */
export interface TlsRedis {
  port: number;
  /** `rediss://:<password>@127.0.0.1:<port>` */
  url: string;
  stop(): Promise<void>;
}

/** Starts redis-server with TLS only and `requirepass`, clients not asked for certificates. */
export async function startTlsRedis(certs: TestCerts, password: string): Promise<TlsRedis> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nightshift-redis-tls-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dataDir,
      '--tls-cert-file',
      certs.cert,
      '--tls-key-file',
      certs.key,
      '--tls-ca-cert-file',
      certs.ca,
      '--tls-auth-clients',
      'no',
      '--requirepass',
      password,
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const url = `rediss://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  // The test process trusts the CA explicitly; the roles get it through NODE_EXTRA_CA_CERTS.
  const probe = new Redis(url, {
    tls: { ca: readFileSync(certs.ca) },
    lazyConnect: true,
    retryStrategy: () => 50,
  });
  probe.on('error', () => {});
  try {
    await waitFor(async () => (await probe.ping()) === 'PONG', { what: `TLS redis-server on ${port}` });
  } catch (err) {
    await stop();
    throw err;
  } finally {
    probe.disconnect();
  }
  return { port, url, stop };
}

/** `n` plain requests `<wave>-<i>` of feature `failover-e2e`. */
function numbered(wave: string, n: number): EnqueueRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    customId: `${wave}-${i}`,
    feature: 'failover-e2e',
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: `Label document ${wave}-${i}` }],
    },
  }));
}

/** Calls `fn` until it succeeds: a service's own retry around a call that meets a failover. */
async function untilDone<T>(fn: () => Promise<T>, what: string): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${what} kept failing: ${String(last)}`);
}

/**
 * The custom_ids delivered more than once whose first delivery came before `cutoff`: after a
 * failover only a result first delivered in the moment before it may come again (RELIABILITY.md).
 */
function repeatedBefore(deliveries: { customId: string; at: number }[], cutoff: number): string[] {
  const first = new Map<string, number>();
  const out: string[] = [];
  for (const d of deliveries) {
    const seen = first.get(d.customId);
    if (seen === undefined) first.set(d.customId, d.at);
    else if (seen < cutoff) out.push(d.customId);
  }
  return out;
}

/**
 * A failover in the middle of a run, and what must hold after it: a first wave is enqueued and,
 * once its first results are delivered, `kill` takes the Redis master down (it returns how the log
 * line names the failover). Then a second wave is enqueued and the first replayed, as a service
 * does (RELIABILITY.md); every request of both reaches `succeeded`; a result comes twice only if
 * first delivered in the second before the kill; no batch is left in flight.
 */
export async function expectFailoverLosesNoRequest(o: {
  producer: Producer;
  store: Store;
  /** Filled by the test's result worker. */
  deliveries: { customId: string; at: number }[];
  kill: () => Promise<string>;
}): Promise<void> {
  const { producer, deliveries } = o;
  const before = numbered('before', 150);
  await producer.enqueueMany(before);
  await waitFor(() => deliveries.length >= 20, { timeoutMs: 30_000, what: 'the first results' });
  expect(deliveries.length, 'the kill must come mid-run').toBeLessThan(before.length);
  const killedAt = Date.now();
  const failover = await o.kill();

  const after = numbered('after', 150);
  await untilDone(() => producer.enqueueMany(after), 'enqueue after the failover');
  const replay = await untilDone(() => producer.enqueueMany(before), 'the replay');

  const all = [...before, ...after].map((r) => r.customId as string);
  await waitFor(() => new Set(deliveries.map((d) => d.customId)).size === all.length, {
    timeoutMs: 60_000,
    what: `${all.length} requests delivered (have ${new Set(deliveries.map((d) => d.customId)).size})`,
  });
  const statuses = await Promise.all(all.map((id) => producer.getStatus(id)));
  expect(statuses.filter((s) => s.state !== 'succeeded').map((s) => s.customId)).toEqual([]);
  expect(
    repeatedBefore(deliveries, killedAt - 1000),
    'delivered twice though first delivered well before the kill',
  ).toEqual([]);
  await waitFor(async () => (await o.store.batches.inflightIds()).length === 0, {
    timeoutMs: 30_000,
    what: 'no batch in flight',
  });
  console.info(
    `${failover}: ${repeatedBefore(deliveries, Number.POSITIVE_INFINITY).length} repeated deliveries, ` +
      `${replay.filter((r) => r.outcome === 'queued').length} enqueues rewritten by the replay`,
  );
}
