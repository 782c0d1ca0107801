/**
 * `pnpm bench:api [--runs N] [--quick]`: the HTTP API and webhooks, each beside a baseline of the
 * same run.
 *
 * 1. `POST /v1/requests` with 1,000 requests per call against `producer.enqueueMany` of the same
 *    1,000 requests, sequential calls, each on a fresh prefix (every request new). The API runs as
 *    its own process (`nightshift-api` from source, token auth, rate limit out of the way); the
 *    bodies are serialized before the clock starts; the producer runs in this process. The two
 *    alternate, run by run.
 * 2. Webhook deliveries per second: a `nightshift-webhooks` process (from source) fans out and
 *    delivers `request.canceled` events of n canceled requests to one endpoint, a receiver in this
 *    process that verifies nothing and answers 204 (so the figure is Nightshift's side). Timed
 *    from the cancel call (the events exist from then on) to the n-th delivery received.
 *
 * A full run (3 runs, 20 calls of 1,000; 5,000 deliveries) replaces the figures in BENCHMARKS.md
 * between the `bench:api` markers; `--quick` (1 run, 5 calls, 1,000 deliveries) or `--runs N`
 * writes bench/out/api.md only.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProducer, type EnqueueRequest } from '@nightshift/producer';
import { createLogger } from '@nightshift/shared';
import { ApiTokens, createRedis, Store, WebhookEndpoints } from '@nightshift/store';
import { freePort, queuedItem, spawnTs, startRedisServer, waitFor } from '@nightshift/testing';
import { replaceSection } from './lib/doc.js';
import { codeVersion, loadAvg1, machineInfo } from './lib/machine.js';
import { benchRequests } from './lib/payloads.js';
import { type Summary, summarize } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOC = join(ROOT, 'BENCHMARKS.md');
const PER_CALL = 1_000;

const { values } = parseArgs({
  options: { runs: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const runs = values.runs ? Number(values.runs) : values.quick ? 1 : 3;
const official = !values.quick && values.runs === undefined;
const calls = values.quick ? 5 : 20;
const deliveries = values.quick ? 1_000 : 5_000;

const server = await startRedisServer();
const redis = createRedis({ url: server.url }, 'client');
const logger = createLogger('bench-api', 'warn');
const env = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  REDIS_URL: server.url,
  NIGHTSHIFT_LOG_LEVEL: 'warn',
};

function role(entry: string, extra: Record<string, string>): ChildProcess {
  return spawnTs(join(ROOT, entry), [], {
    cwd: ROOT,
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}
async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

/** One API process for every run, on the default prefix; Redis is flushed before each run. */
const apiPort = await freePort();
const api = role('packages/api/src/bin.ts', {
  NIGHTSHIFT_API_PORT: String(apiPort),
  NIGHTSHIFT_API_RATE_LIMIT: '1000000',
  NIGHTSHIFT_API_MAX_ITEMS: String(PER_CALL),
});
let apiOut = '';
api.stdout!.on('data', (d) => {
  apiOut += d;
});
await waitFor(() => apiOut.includes('listening'), { timeoutMs: 30_000, what: 'nightshift-api to listen' });

const bodies = Array.from({ length: calls }, (_, c) =>
  JSON.stringify({
    requests: benchRequests(PER_CALL).map((r, i) => ({ ...r, customId: `c${c}-${i}` })),
  }),
);
// The same requests as objects, for the producer (what a service would hold).
const objects = bodies.map((b) => (JSON.parse(b) as { requests: EnqueueRequest[] }).requests);

/** Requests per second through the API. */
async function throughApi(): Promise<number> {
  await redis.flushall();
  const { token } = await new ApiTokens(new Store(redis, 'nightshift')).create({ name: 'bench' });
  const t0 = performance.now();
  for (const body of bodies) {
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    if (res.status !== 202) throw new Error(`API answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  return (calls * PER_CALL) / ((performance.now() - t0) / 1000);
}

async function throughProducer(): Promise<number> {
  await redis.flushall();
  const producer = createProducer({ connection: redis, prefix: 'nightshift', logger });
  const t0 = performance.now();
  for (const reqs of objects) await producer.enqueueMany(reqs);
  const rate = (calls * PER_CALL) / ((performance.now() - t0) / 1000);
  await producer.close();
  return rate;
}

/** Deliveries per second of one webhooks process to a 204 receiver. */
async function webhookRate(run: number): Promise<number> {
  await redis.flushall();
  const prefix = `bwh${run}`;
  const store = new Store(redis, prefix);
  let received = 0;
  const rx = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  await new WebhookEndpoints(store).register({
    name: 'bench',
    url: `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hooks`,
    events: ['request.canceled'],
  });
  const cids = Array.from({ length: deliveries }, (_, i) => `w${i}`);
  await store.records.enqueue(
    cids.map((cid) => queuedItem(cid, { feature: 'bench', phash: cid, group: 'g' })),
  );
  const hooks = role('packages/webhooks/src/bin.ts', {
    NIGHTSHIFT_PREFIX: prefix,
    NIGHTSHIFT_WEBHOOK_ALLOW_PRIVATE: 'true',
    NIGHTSHIFT_WEBHOOK_CONCURRENCY: '32',
  });
  await waitFor(async () => (await store.heartbeats.list()).some((h) => h.role === 'webhooks'), {
    timeoutMs: 30_000,
    what: 'nightshift-webhooks to start',
  });
  const t0 = performance.now();
  await store.records.cancel(cids);
  await waitFor(() => received >= deliveries, {
    timeoutMs: 300_000,
    intervalMs: 5,
    what: `${deliveries} deliveries`,
  });
  const rate = deliveries / ((performance.now() - t0) / 1000);
  await stop(hooks);
  await new Promise<void>((r) => rx.close(() => r()));
  return rate;
}

const info = machineInfo(((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1] ?? '?');
const began = Date.now();
const figures = { api: [] as number[], producer: [] as number[], webhooks: [] as number[] };
await throughProducer(); // warm-up of both paths (JIT, connections)
await throughApi();
for (let i = 0; i < runs; i++) {
  if (i % 2 === 0) {
    figures.api.push(await throughApi());
    figures.producer.push(await throughProducer());
  } else {
    figures.producer.push(await throughProducer());
    figures.api.push(await throughApi());
  }
  figures.webhooks.push(await webhookRate(i));
  console.log(`run ${i + 1}/${runs} done`);
}
info.loadAvg.end = loadAvg1();
await stop(api);
await redis.quit();
await server.stop();

const fmt = (s: Summary) =>
  `${Math.round(s.median).toLocaleString('en-US')} (${Math.round(s.min).toLocaleString('en-US')}–${Math.round(s.max).toLocaleString('en-US')})`;
const ratio = summarize(figures.api.map((a, i) => a / figures.producer[i]!));
const code = codeVersion();
const md = [
  `_${official ? 'full' : 'quick'} run of ${new Date(began).toISOString()} (\`pnpm bench:api${official ? '' : ' …'}\`, ` +
    `${Math.round((Date.now() - began) / 1000)} s, ${runs} run(s)): ${info.nproc} × ${info.cpuModel}, Node ${info.node}, ` +
    `Redis ${info.redis}; load average ${info.loadAvg.start} at start, ${info.loadAvg.end} at end. ` +
    `Code: ${code.commit}${code.uncommitted.length ? ' + uncommitted changes' : ''}. Median (min–max)._`,
  '',
  '| what | requests (or deliveries) per second | vs baseline |',
  '| --- | --- | --- |',
  `| \`producer.enqueueMany\`, ${calls} calls of 1,000 (baseline) | ${fmt(summarize(figures.producer))} | 1.00× |`,
  `| \`POST /v1/requests\`, ${calls} calls of 1,000 (\`nightshift-api\` process, token auth) | ${fmt(summarize(figures.api))} | ${ratio.median.toFixed(2)}× (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) |`,
  `| webhook deliveries, ${deliveries.toLocaleString('en-US')} events to one endpoint (\`nightshift-webhooks\`, concurrency 32) | ${fmt(summarize(figures.webhooks))} | |`,
].join('\n');
const outDir = join(ROOT, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'api.md'), `${md}\n`);
if (official) {
  replaceSection(DOC, 'bench:api', md);
}
console.log(`${md}\n\nWritten to bench/out/api.md${official ? ' and BENCHMARKS.md' : ''}.`);
