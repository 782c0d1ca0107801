import Anthropic from '@anthropic-ai/sdk';
import { type Emulator, type Fault, startEmulator } from '@nightshift/emulator';
import { createLogger, sha256Hex } from '@nightshift/shared';
import { codeText, createRedis, type EnqueueItem, type RedisClient, Store } from '@nightshift/store';
import { type RedisServer, startRedisServer, uniquePrefix } from '@nightshift/testing';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type Batcher, type BatcherOptions, startBatcher } from '../src/index.js';

/** A clock shared by the batcher, the store and the emulator, which tests move forward. */
export const clock = {
  offset: 0,
  now: () => Date.now() + clock.offset,
  advance(ms: number) {
    clock.offset += ms;
  },
};

/** One redis-server and one emulator per test file, a fresh prefix per test. */
export interface Env {
  server: RedisServer;
  emu: Emulator;
  redis: RedisClient;
  client: Anthropic;
  /** Content-types of every create the SDK sent. */
  createContentTypes: string[];
}

async function setupEnv(): Promise<Env> {
  const server = await startRedisServer();
  const emu = await startEmulator({ quiet: true, now: () => clock.now() });
  const createContentTypes: string[] = [];
  // Observes (does not replace) what the real SDK sends.
  const observe: typeof fetch = (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (init?.method === 'POST' && url.endsWith('/v1/messages/batches')) {
      createContentTypes.push(new Headers(init.headers).get('content-type') ?? '');
    }
    return fetch(input, init);
  };
  const client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 0, fetch: observe });
  return { server, emu, redis: createRedis({ url: server.url }, 'worker'), client, createContentTypes };
}

async function teardownEnv(env: Env) {
  await env.redis.quit();
  await env.emu.close();
  await env.server.stop();
}

/** The {@link Env} of a test file, and the batchers its tests started (closed before the env). */
export interface EnvFixture extends Env {
  readonly open: Batcher[];
}

/**
 * Sets up the test file's {@link Env} in `beforeAll` and tears it down in `afterAll`, after closing
 * every batcher pushed onto `open`. Read its fields inside tests and hooks. With `resetEach`, after
 * each test the emulator's faults are cleared and the clock moves 10 minutes on, so that earlier
 * tests' batches fall out of the reconciliation window of later ones.
 */
export function useEnv(opts: { resetEach?: boolean } = {}): EnvFixture {
  let env: Env | undefined;
  const open: Batcher[] = [];
  beforeAll(async () => {
    env = await setupEnv();
  });
  if (opts.resetEach) {
    afterEach(() => {
      env?.emu.control.clearFaults();
      clock.advance(10 * 60_000);
    });
  }
  afterAll(async () => {
    await Promise.all(open.map((b) => b.close()));
    if (env) await teardownEnv(env);
  });
  const ready = (): Env => {
    if (!env) throw new Error('the test env is ready only inside tests and hooks (it starts in beforeAll)');
    return env;
  };
  return {
    open,
    get server() {
      return ready().server;
    },
    get emu() {
      return ready().emu;
    },
    get redis() {
      return ready().redis;
    },
    get client() {
      return ready().client;
    },
    get createContentTypes() {
      return ready().createContentTypes;
    },
  };
}

const quiet = createLogger('batcher-test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** Starts a batcher on the test env; by default without a worker (flushes run via runFlushOnce). */
export function batcherFor(env: Env, prefix: string, over: Partial<BatcherOptions> = {}): Promise<Batcher> {
  return startBatcher({
    connection: env.redis,
    prefix,
    client: env.client,
    runWorker: false,
    tickMs: 60_000,
    now: clock.now,
    logger: quiet,
    ...over,
  });
}

/**
 * A batcher ({@link batcherFor}) on a prefix of its own, closed with the file's env, and a store on
 * that prefix.
 */
export async function freshBatcher(env: EnvFixture, over: Partial<BatcherOptions> = {}) {
  const prefix = uniquePrefix();
  const b = await batcherFor(env, prefix, over);
  env.open.push(b);
  return { b, prefix, store: storeFor(env, prefix) };
}

/** An HTTP status the emulator answers instead of doing the work (its `Fault` of kind `status`). */
export type StatusFault = Extract<Fault, { kind: 'status' }>;

export interface ItemSpec {
  group?: string;
  partition?: string;
  deadline?: number | null;
  /** Approximate length of the user text. */
  size?: number;
  /** Raw params JSON instead of a realistic request (for invalid requests). */
  rawParams?: string;
  /** The estimate a budget reserves, nano-dollars (enqueue's `est`). */
  est?: number;
}

const SYSTEMS: Record<string, string> = {};
const systemFor = (group: string) => {
  SYSTEMS[group] ??= `You are a careful classifier for the ${group} workload. Answer with one label.`;
  return SYSTEMS[group];
};

/**
 * A realistic queued item: params JSON with a group-specific cached system prompt, its phash and
 * its serialized `{"custom_id":…,"params":…}` size, as the producer writes them.
 */
export function makeItem(cid: string, spec: ItemSpec = {}): EnqueueItem {
  const group = spec.group ?? 'g1';
  const text = `Document ${cid}: ${'lorem ipsum '.repeat(Math.ceil((spec.size ?? 60) / 12))}`.slice(
    0,
    Math.max(spec.size ?? 60, cid.length + 12),
  );
  const params =
    spec.rawParams ??
    JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 32,
      system: [{ type: 'text', text: systemFor(group), cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: `${text}\nLabels: spam, ham` }],
    });
  return {
    cid,
    feature: 'classify',
    model: 'claude-haiku-4-5',
    params,
    phash: sha256Hex(params),
    meta: '',
    deadline: spec.deadline ?? null,
    partition: spec.partition ?? 'default',
    group: `${spec.partition ?? 'default'}-${group}`,
    bytes: Buffer.byteLength(`{"custom_id":"${cid}","params":${params}}`),
    realtimeAllowed: false,
    state: 'queued',
    ...(spec.est !== undefined ? { est: spec.est } : {}),
  };
}

/** Enqueues `n` items `<prefix>-<i>` straight into the store. */
export async function enqueue(store: Store, n: number, spec: ItemSpec = {}, tag = 'r'): Promise<string[]> {
  const items = Array.from({ length: n }, (_, i) => makeItem(`${tag}-${i}`, spec));
  const codes = await store.records.enqueue(items, { now: clock.now() });
  if (codes.some((c) => c.code !== 'new')) throw new Error(`enqueue: ${codes.map(codeText).join(',')}`);
  return items.map((i) => i.cid);
}

export const storeFor = (env: Env, prefix: string) => new Store(env.redis, prefix);

/** The custom_ids of each batch a flush created, in order, as the emulator received them. */
export function batchContents(env: Env, flush: { batches: readonly { batchId: string }[] }): string[][] {
  return flush.batches.map((b) => env.emu.inspect.requests(b.batchId).map((r) => r.custom_id));
}
