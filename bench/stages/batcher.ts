/**
 * Stage child: the batcher's claim + submit of everything queued to the emulator.
 * mode 'once': `runFlushOnce('manual')` in this process, timed. mode 'service': a running batcher
 * (worker, scheduler) that waits for a manual flush job, as in production (end-to-end runs).
 */
import Anthropic from '@anthropic-ai/sdk';
import { type FlushReport, startBatcher } from '@nightshift/batcher';
import { boundHeapGrowth } from '@nightshift/shared';
import { createRedis } from '@nightshift/store';
import { meter, type RedisStageArgs, ready, result, rssMB, runChild, stageArgs } from './common.js';
import { benchLogger } from './logger.js';
import { isCreate, timedFetch } from './timed-fetch.js';

interface Args extends RedisStageArgs {
  emuUrl: string;
  mode: 'once' | 'service';
}

const HOUR = 3_600_000;

// A role process, as its bin runs it (NIGHTSHIFT_HEAP_GROWING_PERCENT's default).
boundHeapGrowth();

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'worker');
  await connection.ping();
  const create = timedFetch(isCreate);
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: a.emuUrl, fetch: create.fetch });
  const batcher = await startBatcher({
    connection,
    prefix: a.prefix,
    client,
    logger: benchLogger('batcher'),
    runWorker: a.mode === 'service',
    // Ticks never decide anything here: 'once' flushes directly, 'service' waits for a manual job.
    tickMs: HOUR,
  });
  const rssBeforeMB = rssMB();
  let reports: FlushReport[];
  let measured: { ms: number; cpuMs?: number; gcMs?: number };
  if (a.mode === 'once') {
    const m = meter();
    reports = [await batcher.runFlushOnce('manual')];
    measured = m.stop();
  } else {
    // A running batcher's flush: its own report times it (the process also idled before it).
    reports = await untilSubmitted(batcher, a.n);
    measured = { ms: reports.reduce((s, r) => s + r.durationMs, 0) };
  }
  await batcher.close();
  await connection.quit();
  const batches = reports.flatMap((r) => r.batches);
  const submitted = batches.reduce((s, b) => s + b.requestCount, 0);
  if (submitted !== a.n) throw new Error(`batcher: ${submitted} of ${a.n} requests submitted`);
  result({
    stage: 'batcher',
    n: a.n,
    ...measured,
    createMs: Math.round(create.timing.ms * 10) / 10,
    startedAt: reports[0]!.startedAt,
    endedAt: reports.at(-1)!.endedAt,
    batchIds: batches.map((b) => b.batchId),
    bodyBytes: batches.reduce((s, b) => s + b.bytes, 0),
    rssBeforeMB,
  });
});

/** A running batcher: ready, then every flush that submitted something until n requests are in batches. */
function untilSubmitted(
  batcher: Awaited<ReturnType<typeof startBatcher>>,
  n: number,
): Promise<FlushReport[]> {
  return new Promise((resolve) => {
    const reports: FlushReport[] = [];
    let total = 0;
    batcher.on('flush:done', (r) => {
      if (r.batches.length === 0) return;
      reports.push(r);
      total += r.batches.reduce((s, b) => s + b.requestCount, 0);
      if (total >= n) resolve(reports);
    });
    batcher.on('error', (err) => process.stderr.write(`batcher error: ${err.message}\n`));
    ready();
  });
}
