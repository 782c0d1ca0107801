import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { boardOptionsFromConfig, createBoard } from '@nightshift/board';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker } from '@nightshift/producer';
import { type Config, createLogger, loadConfig, redactError } from '@nightshift/shared';
import {
  costReport,
  createRedis,
  describeRedis,
  logRedisErrors,
  openQueue,
  type RedisClient,
  Store,
} from '@nightshift/store';
import type { CliIO } from '../cli.js';
import { usd } from '../format.js';
import { demoRedis } from './local-redis.js';
import { type Progress, readProgress, renderProgress } from './progress.js';
import { DEMO_FEATURE, demoRequests } from './workload.js';

export interface DemoOptions {
  env: NodeJS.ProcessEnv;
  io: CliIO;
  /** Documents to classify. @defaultValue 300 */
  requests: number;
  /** Shorter ticks and processing, for tests and impatient people. */
  quick: boolean;
}

type Cleanup = () => Promise<unknown>;

/**
 * The README's run command: Redis (found or private), the emulator unless ANTHROPIC_API_KEY is set,
 * batcher + collector + board in this process, a sample workload, live progress and a summary.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const { io } = opts;
  const cleanups: Cleanup[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let config: Config;
    try {
      config = loadConfig(opts.env);
    } catch (err) {
      io.err((err as Error).message);
      return 2;
    }
    const redisInfo = await demoRedis(config.env.REDIS_URL);
    cleanups.push(redisInfo.stop);
    io.out(`Redis: ${redisInfo.description}`);

    const { client, emulator, description } = await apiClient(config, opts.quick);
    if (emulator) cleanups.push(() => emulator.close());
    io.out(`API: ${description}`);

    // The progress line is the demo's output; components log warnings only unless asked otherwise.
    const level = opts.env.NIGHTSHIFT_LOG_LEVEL ?? 'warn';
    const logger = (name: string) => createLogger(name, level);
    const connection = createRedis({ url: redisInfo.url }, 'worker');
    logRedisErrors(connection, logger('demo'), describeRedis({ url: redisInfo.url }));
    cleanups.push(async () => connection.disconnect());
    const store = new Store(connection, config.prefix);
    const prefix = config.prefix;
    const tickMs = opts.quick ? 500 : 2000;

    const batcher = await startBatcher({
      connection,
      prefix,
      client,
      tickMs,
      maxWaitMs: tickMs,
      minRequests: 1,
      logger: logger('batcher'),
    });
    cleanups.push(() => batcher.close());
    const collector = await startCollector({
      connection,
      prefix,
      client,
      prices: config.prices,
      pollMs: opts.quick ? 300 : 1000,
      retryBackoffMs: opts.quick ? 200 : 1000,
      logUsage: false,
      logger: logger('collector'),
    });
    cleanups.push(() => collector.close());
    const board = await startDemoBoard(connection, config, client, logger('board'));
    cleanups.push(() => board.close());
    io.out(`Board: ${board.url}  (Bull Board at ${board.url}/queues)`);

    let delivered = 0;
    const results = createResultWorker({ connection, prefix, handler: () => void delivered++ });
    cleanups.push(() => results.close());
    const producer = createProducer({ connection, prefix });
    cleanups.push(() => producer.close());

    const requests = demoRequests(opts.requests);
    const enqueued = await producer.enqueueMany(requests);
    const fresh = enqueued.filter((r) => r.outcome === 'queued').length;
    io.out(
      `Enqueued ${requests.length} documents to classify (${fresh} new, ${requests.length - fresh} already known).`,
    );
    const cids = enqueued.map((r) => r.customId);

    const final = await watch(store, cids, io, opts.quick ? 120_000 : 600_000);
    await drained(connection, prefix, 10_000);
    const report = await costReport(store, { days: 1 });
    const feature = report.byFeature.find((f) => f.feature === DEMO_FEATURE);
    io.out('');
    io.out('Summary');
    io.out(
      `  results:  ${final.succeeded} succeeded, ${final.dead} dead-lettered, ${final.retried} needed a retry` +
        (delivered ? `, ${delivered} delivered to the result worker this run` : ''),
    );
    io.out(`  batches:  ${final.batches}`);
    if (feature) {
      io.out(
        `  tokens:   ${feature.tokens.input} input, ${feature.tokens.cacheWrite1h + feature.tokens.cacheWrite5m} cache write, ${feature.tokens.cacheRead} cache read, ${feature.tokens.output} output`,
      );
      io.out(
        `  cost:     ${usd(feature.costUsd)} at batch price; real-time would have cost ${usd(feature.realtimeEquivalentUsd)}: saved ${usd(feature.savingsUsd)}`,
      );
    }
    const complete = final.succeeded + final.dead === final.total;
    if (!complete)
      io.err('Not every request reached a final state before the time limit; see `pnpm nightshift status`.');
    return complete ? 0 : 1;
  } catch (err) {
    io.err(`nightshift demo: ${redactError(err).message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

async function apiClient(
  config: Config,
  quick: boolean,
): Promise<{ client: Anthropic; emulator?: Emulator; description: string }> {
  if (config.env.ANTHROPIC_API_KEY) {
    const client = new Anthropic({
      apiKey: config.env.ANTHROPIC_API_KEY,
      ...(config.env.ANTHROPIC_BASE_URL ? { baseURL: config.env.ANTHROPIC_BASE_URL } : {}),
    });
    return {
      client,
      description: `the real Anthropic API at ${client.baseURL} (ANTHROPIC_API_KEY is set; batches cost money)`,
    };
  }
  const emulator = await startEmulator({ processing: { delayMs: quick ? 300 : 3000 }, quiet: true });
  // A little weather, so the demo shows retries and a dead letter.
  emulator.control.injectOutcome({
    rate: 0.04,
    outcome: 'errored',
    errorType: 'overloaded_error',
    message: 'Overloaded',
    times: 20,
  });
  emulator.control.injectOutcome({
    rate: 0.01,
    outcome: 'errored',
    errorType: 'invalid_request_error',
    message: 'messages.0.content: document is empty',
    times: 3,
  });
  const client = new Anthropic({ apiKey: 'emulator', baseURL: emulator.url });
  return {
    client,
    emulator,
    description: `local emulator at ${emulator.url} (ANTHROPIC_API_KEY is not set: no network, no cost)`,
  };
}

/** The demo's board: every board setting from the environment, as `nightshift-board` reads them. */
async function startDemoBoard(
  connection: RedisClient,
  config: Config,
  client: Anthropic,
  logger: ReturnType<typeof createLogger>,
) {
  const base = { ...boardOptionsFromConfig(config), connection, client, logger };
  try {
    return await createBoard(base);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return createBoard({ ...base, port: 0 });
  }
}

/** Waits until the result worker has taken every delivered result (or the time is up). */
async function drained(connection: RedisClient, prefix: string, timeoutMs: number) {
  const queue = openQueue('results', connection, prefix);
  const until = Date.now() + timeoutMs;
  try {
    for (;;) {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed');
      if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0 || Date.now() > until) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await queue.close();
  }
}

async function watch(store: Store, cids: string[], io: CliIO, timeoutMs: number): Promise<Progress> {
  const tty = process.stdout.isTTY;
  const until = Date.now() + timeoutMs;
  let lastPrinted = 0;
  for (;;) {
    const p = await readProgress(store, cids);
    const done = p.succeeded + p.dead === p.total;
    if (tty) process.stdout.write(`\r${renderProgress(p)}`);
    else if (done || Date.now() - lastPrinted > 2000) {
      io.out(renderProgress(p));
      lastPrinted = Date.now();
    }
    if (done || Date.now() > until) {
      if (tty) process.stdout.write('\n');
      return p;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
