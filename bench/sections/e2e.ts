/**
 * Section 4–5: end to end. A batcher, a collector and a result consumer run as their own processes
 * (as deployed); a producer process enqueues n requests; when it is done the orchestrator asks for a
 * flush the way `nightshift flush` does (a manual job on `{flush}`). Time = from the producer's
 * enqueueMany call to the n-th result reaching the consumer's handler. Each process reports its
 * peak RSS: the scale curve. Then, on a flushed Redis, the raw pipeline child runs the raw
 * baselines one after the other on the same n (their sum is the end-to-end baseline).
 */
import { openQueue } from '@nightshift/store';
import { runStage, type StageMessage, spawnStage } from '../lib/child.js';
import type { BenchEnv } from '../lib/env.js';
import { loadAvg1 } from '../lib/machine.js';
import { field, type Summary } from '../lib/stats.js';

const PREFIX = 'ns';

/** End-to-end figures of one size. */
export interface E2eSize {
  n: number;
  runs: number;
  /** 1-minute load average of the machine at the start of each run (other work skews timings). */
  loadAvg: Summary;
  /** Enqueue start → n-th result in the consumer's handler, ms. */
  ms: Summary;
  perSecond: Summary;
  /**
   * Where the time went: enqueue, flush, collector apply (batch ended → applied), the consumer's lag
   * after the collector, and handoffs (the rest: flush request and pickup, tracking job pickup, the
   * emulator ending the batch on the first retrieve).
   */
  phases: Record<'enqueueMs' | 'flushMs' | 'applyMs' | 'consumerTailMs' | 'handoffMs', Summary>;
  /** Peak V8 heap (total) of each process, MB: how much of the RSS is the JS heap. */
  peakHeapTotalMB: Record<'producer' | 'batcher' | 'collector' | 'consumer', Summary>;
  /** Peak RSS of each process, MB. */
  peakRssMB: Record<'producer' | 'batcher' | 'collector' | 'consumer', Summary>;
  /** Sum of the raw baselines (addBulk + getWaiting/stringify + results iteration + Worker), ms. */
  baselineSumMs: Summary;
  /** The raw baselines one by one, ms (the first three from the stage section when it ran at this n). */
  baselineMs: Record<'enqueueMs' | 'fetchBodyMs' | 'iterateMs' | 'consumeMs', Summary>;
  /** baseline sum / end-to-end time per run (1 = as fast as raw; higher is faster). */
  ratio: Summary;
}

interface Run {
  p: StageMessage;
  b: StageMessage;
  c: StageMessage;
  k: StageMessage;
  raw: StageMessage;
  /** 1-minute load average of the machine when the run started. */
  load: number;
}

async function oneRun(env: BenchEnv, n: number, concurrency: number, consumeOnly: boolean): Promise<Run> {
  await env.reset();
  const load = loadAvg1();
  const base = { redisUrl: env.redisUrl, prefix: PREFIX, n };
  const batcher = spawnStage('batcher', { ...base, emuUrl: env.emuUrl, mode: 'service' });
  const collector = spawnStage('collector', { ...base, emuUrl: env.emuUrl });
  const consumer = spawnStage('consumer', { ...base, concurrency });
  const services = [batcher, collector, consumer];
  try {
    await Promise.all(services.map((s) => s.ready()));
    // The flush is asked for as soon as the producer reports, before its process has exited.
    const producer = spawnStage('producer', base);
    const p = await producer.resultLine();
    const flush = openQueue('flush', env.redis, PREFIX);
    await flush.add('manual', {}, { removeOnComplete: 100, removeOnFail: 500 });
    await flush.close();
    const [b, c, k] = await Promise.all(services.map((s) => s.result()));
    await producer.result();
    await env.flushRedis();
    const raw = await runStage('raw-pipeline', {
      ...base,
      prefix: 'raw',
      emuUrl: env.emuUrl,
      batchIds: b!.batchIds,
      concurrency,
      consumeOnly,
    });
    return { p, b: b!, c: c!, k: k!, raw, load };
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
}

const num = (m: StageMessage, k: string) => Number(m[k]);
const heap = (m: StageMessage) => Number((m.peak as Record<string, number> | undefined)?.heapTotalMB ?? 0);

/** Raw baselines the stage section measured at this n (medians), reused instead of measured again. */
export type StageBaselines = Record<'enqueueMs' | 'fetchBodyMs' | 'iterateMs', Summary>;

/**
 * Runs the end-to-end benchmark at size n, `runs` times. With `stageRaw` (the stage section ran at
 * this n in the same bench run), the raw pipeline only measures the consumer step and the sum uses
 * the stage section's medians for the other three.
 */
export async function benchE2e(
  env: BenchEnv,
  n: number,
  runs: number,
  concurrency: number,
  log: (line: string) => void,
  stageRaw?: StageBaselines,
): Promise<E2eSize> {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await oneRun(env, n, concurrency, stageRaw !== undefined);
    log(
      `e2e n=${n} run ${i + 1}/${runs}: ${num(r.k, 'lastAt') - num(r.p, 'startedAt')} ms (load ${loadAvg1()})`,
    );
    all.push(r);
  }
  const total = (r: Run) => num(r.k, 'lastAt') - num(r.p, 'startedAt');
  const tail = (r: Run) => Math.max(0, num(r.k, 'lastAt') - num(r.c, 'endedAt'));
  const reused = stageRaw
    ? stageRaw.enqueueMs.median + stageRaw.fetchBodyMs.median + stageRaw.iterateMs.median
    : 0;
  const rawSum = (r: Run) => num(r.raw, 'ms') + reused;
  return {
    n,
    runs,
    loadAvg: field(all, (r) => r.load),
    ms: field(all, total),
    perSecond: field(all, (r) => Math.round((n / total(r)) * 1000)),
    phases: {
      enqueueMs: field(all, (r) => num(r.p, 'ms')),
      flushMs: field(all, (r) => num(r.b, 'ms')),
      applyMs: field(all, (r) => num(r.c, 'ms')),
      consumerTailMs: field(all, (r) => tail(r)),
      handoffMs: field(all, (r) => total(r) - num(r.p, 'ms') - num(r.b, 'ms') - num(r.c, 'ms') - tail(r)),
    },
    peakRssMB: {
      producer: field(all, (r) => num(r.p, 'peakRssMB')),
      batcher: field(all, (r) => num(r.b, 'peakRssMB')),
      collector: field(all, (r) => num(r.c, 'peakRssMB')),
      consumer: field(all, (r) => num(r.k, 'peakRssMB')),
    },
    peakHeapTotalMB: {
      producer: field(all, (r) => heap(r.p)),
      batcher: field(all, (r) => heap(r.b)),
      collector: field(all, (r) => heap(r.c)),
      consumer: field(all, (r) => heap(r.k)),
    },
    baselineSumMs: field(all, rawSum),
    baselineMs: {
      enqueueMs: stageRaw?.enqueueMs ?? field(all, (r) => num(r.raw, 'enqueueMs')),
      fetchBodyMs: stageRaw?.fetchBodyMs ?? field(all, (r) => num(r.raw, 'fetchBodyMs')),
      iterateMs: stageRaw?.iterateMs ?? field(all, (r) => num(r.raw, 'iterateMs')),
      consumeMs: field(all, (r) => num(r.raw, 'consumeMs')),
    },
    ratio: field(all, (r) => rawSum(r) / total(r)),
  };
}
