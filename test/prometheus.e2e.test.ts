/**
 * The shipped alert rules against a real Prometheus (Debian's `prometheus`, a temp config and data
 * dir, scrape and rule evaluation every second) scraping the real role processes on loopback:
 * `nightshift-batcher`, `nightshift-collector` and `nightshift-board` as child processes with
 * NIGHTSHIFT_METRICS_PORT set, and a service's result worker (this process) that passes its own
 * registry. The pipeline runs against the emulator; then the collector is killed (SIGKILL) and
 * Prometheus' HTTP API must show NightshiftCollectorNotPolling pending, then firing.
 *
 * The rules are deploy/prometheus/alerts.yml as shipped except `for:`, which is minutes there and
 * 3 s in the copy this test writes (the thresholds in the expressions come from the board, which
 * derives them from NIGHTSHIFT_POLL_MS / NIGHTSHIFT_TICK_MS, here 1 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker, type ResultWorker } from '@nightshift/producer';
import { type MetricsServer, Registry, startMetricsServer } from '@nightshift/telemetry';
import {
  classifyRequest,
  freePort,
  type RedisServer,
  silentLogger,
  sourceNodeArgs,
  startRedisServer,
  waitFor,
} from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, withGrafanaVariables } from './dashboard.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RULES = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const BINS = {
  batcher: join(ROOT, 'packages/batcher/src/bin.ts'),
  collector: join(ROOT, 'packages/collector/src/bin.ts'),
  board: join(ROOT, 'packages/board/src/bin.ts'),
};
type Role = keyof typeof BINS;
const PREFIX = 'prom-e2e';
const REQUESTS = 20;

let redis: RedisServer;
let emu: Emulator;
let dir: string;
let prometheus: ChildProcess;
let promUrl: string;
const roles = {} as Record<Role, { child: ChildProcess; port: number; log: string[] }>;
let worker: ResultWorker;
let workerMetrics: MetricsServer;
const delivered = new Set<string>();

function startRole(role: Role, port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, sourceNodeArgs(BINS[role]), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, NIGHTSHIFT_METRICS_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  child.stdout!.on('data', (d) => log.push(String(d)));
  child.stderr!.on('data', (d) => log.push(String(d)));
  roles[role] = { child, port, log };
}

async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await once(child, 'exit');
}

/** The shipped rules with every `for:` shortened to 3 s. */
function testRules(): string {
  const shipped = readFileSync(RULES, 'utf8');
  const copy = shipped.replace(/^(\s+for:) \S+$/gm, '$1 3s');
  expect(copy).not.toBe(shipped);
  return copy;
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${promUrl}${path}`);
  const body = (await res.json()) as { status: string; data: T };
  if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${JSON.stringify(body)}`);
  return body.data;
}

/** The value of a scalar-like query (the first sample), or null when it has no sample. */
async function query(expr: string): Promise<number | null> {
  const data = await api<{ result: { value: [number, string] }[] }>(
    `/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  return data.result[0] ? Number(data.result[0].value[1]) : null;
}

const alertState = async (name: string) => {
  const data = await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
  return data.alerts.find((a) => a.labels.alertname === name)?.state ?? 'inactive';
};

beforeAll(async () => {
  [redis, emu] = await Promise.all([startRedisServer(), startEmulator({ quiet: true })]);
  dir = mkdtempSync(join(tmpdir(), 'nightshift-prometheus-'));
  const [batcherPort, collectorPort, boardMetricsPort, boardPort, workerPort, promPort] = await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  );
  const env = {
    REDIS_URL: redis.url,
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: emu.url,
    NIGHTSHIFT_PREFIX: PREFIX,
    NIGHTSHIFT_LOG_LEVEL: 'warn',
    NIGHTSHIFT_TICK_MS: '1000',
    NIGHTSHIFT_MAX_WAIT_MS: '1000',
    NIGHTSHIFT_POLL_MS: '1000',
    NIGHTSHIFT_MAX_POLL_MS: '1000',
  };
  startRole('batcher', batcherPort!, env);
  startRole('collector', collectorPort!, env);
  startRole('board', boardMetricsPort!, { ...env, NIGHTSHIFT_BOARD_PORT: String(boardPort) });

  // The service: its own registry, served on its own port, handed to the result worker.
  const registry = new Registry();
  workerMetrics = await startMetricsServer(registry, { port: workerPort! });
  worker = createResultWorker({
    redisUrl: redis.url,
    prefix: PREFIX,
    metrics: registry,
    logger: silentLogger,
    handler: async (r) => void delivered.add(r.customId),
  });

  writeFileSync(join(dir, 'alerts.yml'), testRules());
  const target = (port: number) => ({ targets: [`127.0.0.1:${port}`] });
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ['alerts.yml'],
    scrape_configs: [
      { job_name: 'nightshift-batcher', static_configs: [target(batcherPort!)] },
      { job_name: 'nightshift-collector', static_configs: [target(collectorPort!)] },
      { job_name: 'nightshift-board', static_configs: [target(boardMetricsPort!)] },
      { job_name: 'nightshift-result-worker', static_configs: [target(workerPort!)] },
    ],
  };
  // JSON is YAML: no YAML library needed.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  promUrl = `http://127.0.0.1:${promPort}`;
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const promLog: string[] = [];
  prometheus.stderr!.on('data', (d) => promLog.push(String(d)));
  await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok === true, {
    what: `Prometheus ready (${promLog.join('')})`,
    timeoutMs: 20_000,
  });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await workerMetrics?.close();
  await Promise.all(Object.values(roles).map((r) => stop(r.child)));
  await stop(prometheus);
  await Promise.all([redis?.stop(), emu?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus scraping the roles', () => {
  it('collects the latency histograms of a pipeline run', async () => {
    await waitFor(async () => (await query('count(up{job=~"nightshift-.*"} == 1)')) === 4, {
      what: 'every role scraped',
      timeoutMs: 30_000,
    });
    const producer = createProducer({
      redisUrl: redis.url,
      prefix: PREFIX,
      logger: silentLogger,
    });
    try {
      await producer.enqueueMany(Array.from({ length: REQUESTS }, (_, i) => classifyRequest(`doc-${i}`)));
    } finally {
      await producer.close();
    }
    await waitFor(() => delivered.size === REQUESTS, { what: 'every result delivered', timeoutMs: 30_000 });
    const counts = {
      create: 'sum(nightshift_batcher_create_duration_seconds_count{outcome="created"})',
      timeToEnd: 'sum(nightshift_collector_batch_time_to_end_seconds_count)',
      toResult:
        'sum(nightshift_collector_enqueue_to_result_seconds_count{feature="classify",outcome="succeeded"})',
      toDelivery: 'sum(nightshift_result_worker_enqueue_to_delivery_seconds_count{feature="classify"})',
    };
    // Each target is scraped every second, each at its own moment: wait until all have been since.
    await waitFor(
      async () => {
        const values = await Promise.all(Object.values(counts).map((q) => query(q)));
        return values.every((v) => (v ?? 0) >= 1) && values[3] === REQUESTS;
      },
      { what: 'every histogram scraped with its samples', timeoutMs: 15_000 },
    );
    expect(await query(counts.create)).toBeGreaterThanOrEqual(1);
    expect(await query(counts.timeToEnd)).toBeGreaterThanOrEqual(1);
    expect(await query(counts.toResult)).toBe(REQUESTS);
    expect(await query(counts.toDelivery)).toBe(REQUESTS);
    // A quantile Prometheus computes from the buckets: every request waited at least the 1 s of
    // NIGHTSHIFT_MAX_WAIT_MS and less than the first bucket (1 min).
    const p50 = await query(
      'histogram_quantile(0.5, sum by (le) (nightshift_collector_enqueue_to_result_seconds_bucket))',
    );
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThanOrEqual(60);
    // Per-process metrics of every role, and the fleet view of the board.
    // (The service's registry is its own: the worker adds only its nightshift_result_worker_* to it.)
    expect(await query('count(process_resident_memory_bytes{job=~"nightshift-.*"})')).toBe(3);
    expect(await query('sum(nightshift_results_total{type="succeeded"})')).toBe(REQUESTS);
    expect(
      await query(
        'count(nightshift_redis_roundtrip_seconds_count{job=~"nightshift-(batcher|collector|board)"})',
      ),
    ).toBe(3);
    expect(await alertState('NightshiftCollectorNotPolling')).not.toBe('firing');
  }, 60_000);

  it('evaluates every query of the Grafana dashboard, most with data', async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/nightshift.json'), 'utf8'));
    const queries = dashboardQueries(dashboard);
    let withData = 0;
    for (const { expr } of queries) {
      const data = await api<{ result: unknown[] }>(
        `/api/v1/query?query=${encodeURIComponent(withGrafanaVariables(expr))}`,
      );
      if (data.result.length > 0) withData++;
    }
    // Some need more than this short run: a dead letter, a refused create, an hour of cost.
    expect(withData).toBeGreaterThan(queries.length / 2);
  });

  it('raises NightshiftCollectorNotPolling, pending then firing, once the collector is killed', async () => {
    await stop(roles.collector.child, 'SIGKILL');
    const seen: string[] = [];
    await waitFor(
      async () => {
        const state = await alertState('NightshiftCollectorNotPolling');
        if (seen.at(-1) !== state) seen.push(state);
        return state === 'firing';
      },
      { what: 'the collector alert firing', timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(seen).toContain('pending');
    expect(seen.indexOf('pending')).toBeLessThan(seen.indexOf('firing'));
    // The process-level alert sees the dead target too; the batcher's is quiet.
    await waitFor(async () => (await query('up{job="nightshift-collector"}')) === 0, {
      what: 'the collector target down',
      timeoutMs: 10_000,
    });
    expect(await alertState('NightshiftBatcherNotFlushing')).toBe('inactive');
  }, 45_000);
});
