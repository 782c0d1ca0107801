/**
 * `pnpm bench:replicas`: collector throughput with 1 vs N collector processes when several batches
 * end at once.
 *
 * Each round: a fresh redis-server (or 3-master Redis Cluster with `--cluster`) and emulator
 * (manual processing, in this process); `batches × perBatch` requests enqueued with the producer
 * and flushed by the batcher into `batches` batches, all still in progress; then `replicas`
 * collector processes (the real `nightshift-collector` bin, configured through the environment)
 * start and report a heartbeat. The clock starts when every batch is ended at the emulator at once
 * and stops when every result is applied (no batch in flight, every record final). CPU seconds of
 * the collectors (from /proc), of Redis (INFO cpu) and of this process (the emulator streaming
 * results) are measured over the same window.
 *
 *   pnpm bench:replicas [--batches 6] [--per-batch 5000] [--replicas 1,3] [--rounds 2] [--cluster] [--write]
 *
 * `--write` replaces the "Replicas" section of BENCHMARKS.md (between its markers) with the figures.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, type EnqueueRequest } from '@nightshift/producer';
import { createRedis, type RedisClient, Store } from '@nightshift/store';
import {
  silentLogger,
  sourceNodeArgs,
  startRedisCluster,
  startRedisServer,
  waitFor,
} from '@nightshift/testing';
import { startThrottle } from './replicas/throttle.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COLLECTOR_BIN = join(ROOT, 'packages/collector/src/bin.ts');
const PREFIX = 'rep';
const CLK_TCK = 100;

interface Round {
  replicas: number;
  results: number;
  ms: number;
  perSec: number;
  cpu: { collectors: number; redis: number; orchestrator: number };
  load1: number;
  /** Average bytes of one results line as streamed (paced runs only). */
  lineBytes?: number;
}

/** A Redis to run one round on: a single server or a 3-master cluster, thrown away afterwards. */
interface Target {
  redis: RedisClient;
  env: Record<string, string>;
  /** Redis CPU seconds so far (sum over the nodes). */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

async function startTarget(cluster: boolean): Promise<Target> {
  if (cluster) {
    const c = await startRedisCluster(3);
    const redis = createRedis({ url: 'redis://127.0.0.1:1', clusterNodes: c.seeds }, 'worker');
    const nodes = c.nodes.map((n) => createRedis({ url: n.url }, 'client'));
    return {
      redis,
      env: { REDIS_URL: 'redis://127.0.0.1:1', NIGHTSHIFT_REDIS_CLUSTER_NODES: c.seeds.join(',') },
      cpuSeconds: async () => (await Promise.all(nodes.map(redisCpu))).reduce((a, b) => a + b, 0),
      stop: async () => {
        for (const r of [redis, ...nodes]) r.disconnect();
        await c.stop();
      },
    };
  }
  const server = await startRedisServer();
  const redis = createRedis({ url: server.url }, 'worker');
  return {
    redis,
    env: { REDIS_URL: server.url },
    cpuSeconds: () => redisCpu(redis),
    stop: async () => {
      redis.disconnect();
      await server.stop();
    },
  };
}

async function redisCpu(r: RedisClient): Promise<number> {
  const info = await r.info('cpu');
  const num = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return num('used_cpu_user') + num('used_cpu_sys');
}

/** utime + stime of a process, in seconds (Linux /proc; 0 elsewhere). */
function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function requests(n: number): EnqueueRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    customId: `doc-${i}`,
    feature: 'bench-replicas',
    metadata: { i },
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 32,
      system: 'Classify the document as spam or ham. Answer with one word.',
      messages: [{ role: 'user', content: `Document ${i}: ${'lorem ipsum dolor sit amet '.repeat(8)}` }],
    },
  }));
}

/** Enqueues and flushes `batches × perBatch` requests into in-progress batches at the emulator. */
async function prepare(t: Target, emu: Emulator, batches: number, perBatch: number): Promise<Store> {
  const producer = createProducer({ connection: t.redis, prefix: PREFIX, logger: silentLogger });
  const all = requests(batches * perBatch);
  for (let i = 0; i < all.length; i += 5000) await producer.enqueueMany(all.slice(i, i + 5000));
  await producer.close();
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: emu.url, maxRetries: 0 });
  const batcher = await startBatcher({
    connection: t.redis,
    prefix: PREFIX,
    client,
    runWorker: false,
    maxRequests: perBatch,
    logger: silentLogger,
  });
  const report = await batcher.runFlushOnce('manual');
  await batcher.close();
  const store = new Store(t.redis, PREFIX);
  const made = (await store.batches.inflightIds()).length;
  if (made !== batches)
    throw new Error(`expected ${batches} batches in flight, have ${made}: ${JSON.stringify(report)}`);
  return store;
}

/** One measured round with `replicas` collector processes. */
async function round(replicas: number, o: Options): Promise<Round> {
  const t = await startTarget(o.cluster);
  const emu = await startEmulator({ processing: 'manual', recordRequests: false, quiet: true });
  const throttle = o.streamKBps > 0 ? await startThrottle(emu.url, o.streamKBps * 1000) : undefined;
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const store = await prepare(t, emu, o.batches, o.perBatch);
    const env = {
      PATH: process.env.PATH ?? '',
      ...t.env,
      NIGHTSHIFT_PREFIX: PREFIX,
      ANTHROPIC_API_KEY: 'bench-key',
      ANTHROPIC_BASE_URL: throttle?.url ?? emu.url,
      // Polls and sweeps every second: an ended batch is seen within 1 s, and an idle collector
      // costs ~1 % of a core (at 100 ms it is ~4 %, which skews a 1-vs-3 comparison).
      NIGHTSHIFT_POLL_MS: '1000',
      NIGHTSHIFT_LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < replicas; i++) {
      const child = spawn(process.execPath, sourceNodeArgs(COLLECTOR_BIN), {
        cwd: ROOT,
        env,
        stdio: 'inherit',
      });
      children.push(child);
    }
    await waitFor(async () => (await store.heartbeats.list()).length === replicas, {
      timeoutMs: 120_000,
      what: `${replicas} collector heartbeats`,
    });
    const total = o.batches * o.perBatch;
    const pids = children.map((c) => c.pid!);
    const before = {
      collectors: pids.reduce((s, p) => s + procCpu(p), 0),
      redis: await t.cpuSeconds(),
      me: process.cpuUsage(),
    };
    const t0 = performance.now();
    emu.control.complete();
    // A batch leaves the in-flight set once all its results are applied.
    await waitFor(async () => (await store.batches.inflightIds()).length === 0, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: 'every batch collected',
    });
    const ms = performance.now() - t0;
    const me = process.cpuUsage(before.me);
    const cpu = {
      collectors: round1(pids.reduce((s, p) => s + procCpu(p), 0) - before.collectors),
      redis: round1((await t.cpuSeconds()) - before.redis),
      orchestrator: round1((me.user + me.system) / 1e6),
    };
    const states = await store.records.peek(
      Array.from({ length: total }, (_, i) => `doc-${i}`),
      ['state'],
    );
    const final = states.filter((r) => r?.state === 'succeeded').length;
    if (final !== total) throw new Error(`only ${final} of ${total} requests succeeded`);
    // Exactly once whatever the replicas: a result applied twice would show here.
    const duplicates = (await store.stats.all()).duplicate_results ?? 0;
    if (duplicates) console.warn(`note: ${duplicates} result lines were streamed again (counted once)`);
    return {
      replicas,
      results: total,
      ms: Math.round(ms),
      perSec: Math.round((total / ms) * 1000),
      cpu,
      load1: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      ...(throttle ? { lineBytes: Math.round(throttle.resultBytes() / total) } : {}),
    };
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    await throttle?.close();
    await emu.close();
    await t.stop();
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;

interface Options {
  batches: number;
  perBatch: number;
  replicas: number[];
  rounds: number;
  cluster: boolean;
  /** Pace each results stream to this many KB/s (0: as fast as loopback goes). */
  streamKBps: number;
  write: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      batches: { type: 'string', default: '6' },
      'per-batch': { type: 'string', default: '5000' },
      replicas: { type: 'string', default: '1,3' },
      rounds: { type: 'string', default: '2' },
      cluster: { type: 'boolean', default: false },
      'stream-kbps': { type: 'string', default: '0' },
      write: { type: 'boolean', default: false },
    },
  });
  return {
    batches: Number(values.batches),
    perBatch: Number(values['per-batch']),
    replicas: String(values.replicas).split(',').map(Number),
    rounds: Number(values.rounds),
    cluster: values.cluster ?? false,
    streamKBps: Number(values['stream-kbps']),
    write: values.write ?? false,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
};

/** The Markdown table of one run: wall time per round, then medians. */
function table(rounds: Round[], o: Options): string {
  const med1 = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return round1(s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2);
  };
  const rows = o.replicas.map((n) => {
    const mine = rounds.filter((r) => r.replicas === n);
    const ms = median(mine.map((r) => r.ms));
    const perSec = Math.round((o.batches * o.perBatch * 1000) / ms).toLocaleString('en-US');
    const cpu = (k: keyof Round['cpu']) => med1(mine.map((r) => r.cpu[k]));
    const each = mine.map((r) => (r.ms / 1000).toFixed(1)).join(' / ');
    const load = mine.map((r) => r.load1).join(' / ');
    return `| ${n} | ${each} | ${(ms / 1000).toFixed(1)} | ${perSec} | ${cpu('collectors')} / ${cpu('redis')} / ${cpu('orchestrator')} | ${load} |`;
  });
  return [
    '| collector processes | s per round | median s | results/s (median) | CPU s, median: collectors / Redis / emulator | load avg (1 min) after each round |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

async function main() {
  const o = options();
  const rounds: Round[] = [];
  for (let r = 0; r < o.rounds; r++) {
    // Alternate the order, so a drift in machine load does not favour one side.
    const order = r % 2 === 0 ? o.replicas : [...o.replicas].reverse();
    for (const n of order) {
      const res = await round(n, o);
      rounds.push(res);
      console.log(JSON.stringify(res));
    }
  }
  const setup = `${o.batches} batches × ${o.perBatch.toLocaleString('en-US')} results, all ended at once; ${
    o.cluster ? '3-master Redis Cluster' : 'one redis-server'
  }; results streams ${o.streamKBps ? `paced to ${o.streamKBps} KB/s each` : 'unpaced (loopback)'}; ${
    cpus().length
  } cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`;
  const md = `${setup}\n\n${table(rounds, o)}`;
  console.log(`\n${md}`);
  if (o.write) writeSection(`${o.cluster ? 'cluster' : 'single'}${o.streamKBps ? '-paced' : ''}`, md);
}

/**
 * Replaces this run's part of the "Replicas" section of BENCHMARKS.md, between its own markers
 * (the rest of the file belongs to the other benchmarks and is left as it is).
 */
function writeSection(kind: string, md: string) {
  const path = join(ROOT, 'BENCHMARKS.md');
  const text = readFileSync(path, 'utf8');
  const start = `<!-- replicas-${kind}:start -->`;
  const end = `<!-- replicas-${kind}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a)
    throw new Error(`BENCHMARKS.md has no ${start} … ${end} markers in its Replicas section`);
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${md}\n${text.slice(b)}`);
  console.log(`BENCHMARKS.md: Replicas (${kind}) updated`);
}

await main();
process.exit(0);
