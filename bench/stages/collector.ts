/**
 * Stage child: a collector (`startCollector`, production defaults) picks up the `{batches}` tracking
 * jobs the batcher left, and applies every result. Timed from the first `batch:ended` (the emulator
 * has produced the results by then) to the `results:applied` that brings the applied lines to n.
 * With `metrics`, it runs as `nightshift-collector` does with NIGHTSHIFT_METRICS_PORT set: a role
 * registry (process metrics, Redis round trip) given to the collector, scraped once at the end.
 */
import Anthropic from '@anthropic-ai/sdk';
import { startCollector } from '@nightshift/collector';
import { boundHeapGrowth } from '@nightshift/shared';
import { createRedis } from '@nightshift/store';
import { createRoleRegistry, watchRedis } from '@nightshift/telemetry';
import {
  type Meter,
  meter,
  type RedisStageArgs,
  ready,
  result,
  rssMB,
  runChild,
  stageArgs,
} from './common.js';
import { benchLogger } from './logger.js';

interface Args extends RedisStageArgs {
  emuUrl: string;
  metrics?: boolean;
}

// A role process, as its bin runs it (NIGHTSHIFT_HEAP_GROWING_PERCENT's default).
boundHeapGrowth();

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'worker');
  await connection.ping();
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: a.emuUrl });
  const registry = a.metrics ? createRoleRegistry('collector') : undefined;
  const watch = registry && watchRedis(registry, connection);
  const rssBeforeMB = rssMB();
  const tStart = performance.now();
  const collector = await startCollector({
    connection,
    prefix: a.prefix,
    client,
    logger: benchLogger('collector'),
    ...(registry ? { metrics: registry } : {}),
  });
  collector.on('error', (err) => process.stderr.write(`collector error: ${err.message}\n`));
  let applying: Meter | undefined;
  let startedAt = 0;
  const totals = { lines: 0, delivered: 0, batches: 0 };
  const done = new Promise<void>((resolve) => {
    collector.on('batch:ended', () => {
      if (applying) return;
      applying = meter();
      startedAt = Date.now();
    });
    collector.on('results:applied', ({ counts }) => {
      totals.lines += counts.lines;
      totals.delivered += counts.delivered;
      totals.batches++;
      if (totals.lines >= a.n) {
        applying?.stop();
        resolve();
      }
    });
  });
  ready();
  await done;
  const measured = applying!.stop();
  const totalMs = Math.round((performance.now() - tStart) * 10) / 10;
  const endedAt = Date.now();
  const scrapeBytes = registry ? (await registry.metrics()).length : 0;
  watch?.stop();
  await collector.close();
  await connection.quit();
  if (totals.delivered !== a.n) throw new Error(`collector: ${totals.delivered} of ${a.n} results delivered`);
  result({
    stage: 'collector',
    n: a.n,
    ...measured,
    totalMs,
    rate: Math.round((a.n / measured.ms) * 1000),
    startedAt,
    endedAt,
    ...totals,
    rssBeforeMB,
    scrapeBytes,
  });
});
