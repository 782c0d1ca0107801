/**
 * Stage child: a collector (`startCollector`, production defaults) picks up the `{batches}` tracking
 * jobs the batcher left, and applies every result. Timed from the first `batch:ended` (the emulator
 * has produced the results by then) to the `results:applied` that brings the applied lines to n.
 */
import Anthropic from '@anthropic-ai/sdk';
import { startCollector } from '@nightshift/collector';
import { createRedis } from '@nightshift/store';
import { benchLogger, ready, result, rssMB, runChild, stageArgs } from './common.js';

interface Args {
  redisUrl: string;
  prefix: string;
  emuUrl: string;
  n: number;
}

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'worker');
  await connection.ping();
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: a.emuUrl });
  const rssBeforeMB = rssMB();
  const tStart = performance.now();
  const collector = await startCollector({
    connection,
    prefix: a.prefix,
    client,
    logger: benchLogger('collector'),
  });
  collector.on('error', (err) => process.stderr.write(`collector error: ${err.message}\n`));
  let t0 = 0;
  let startedAt = 0;
  const totals = { lines: 0, delivered: 0, batches: 0 };
  const done = new Promise<void>((resolve) => {
    collector.on('batch:ended', () => {
      if (t0) return;
      t0 = performance.now();
      startedAt = Date.now();
    });
    collector.on('results:applied', ({ counts }) => {
      totals.lines += counts.lines;
      totals.delivered += counts.delivered;
      totals.batches++;
      if (totals.lines >= a.n) resolve();
    });
  });
  ready();
  await done;
  const t1 = performance.now();
  const endedAt = Date.now();
  await collector.close();
  await connection.quit();
  if (totals.delivered !== a.n) throw new Error(`collector: ${totals.delivered} of ${a.n} results delivered`);
  const ms = Math.round((t1 - t0) * 10) / 10;
  result({
    stage: 'collector',
    n: a.n,
    ms,
    totalMs: Math.round((t1 - tStart) * 10) / 10,
    rate: Math.round((a.n / ms) * 1000),
    startedAt,
    endedAt,
    ...totals,
    rssBeforeMB,
  });
});
