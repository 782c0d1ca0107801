/**
 * The benchmark suite: stages beside their raw baselines, end to end, the scale curve, the Redis
 * footprint, the cost view and the result consumer's bound. `runBench` returns every figure; `bench/run.ts` writes them out.
 * Timing targets are checked here (see `targets`), never in tests.
 */

import { BenchEnv } from './lib/env.js';
import { codeVersion, loadAvg1, type MachineInfo, machineInfo } from './lib/machine.js';
import { benchConsumer, CONSUMERS, type Consumer, type ConsumerSection } from './sections/consumer.js';
import { benchCost, type CostView } from './sections/cost.js';
import { benchE2e, type E2eSize } from './sections/e2e.js';
import { benchMetricsOverhead, type MetricsOverhead } from './sections/metrics.js';
import { benchStages, type Footprint, type StagesSize } from './sections/stages.js';

/** What to run. */
export interface BenchOptions {
  /** Quick mode (CI smoke): smaller sizes, fewer runs. */
  quick: boolean;
  /** Sizes (requests) of the stage benchmarks; the largest is judged against the targets. */
  stageSizes: number[];
  /** Sizes (requests) of the end-to-end runs: the scale curve. */
  e2eSizes: number[];
  /** Runs per figure (the median is reported). */
  runs: number;
  /** Requests of the cost view. */
  costRequests: number;
  /** Distinct cached system prompts in the cost view's variant. */
  costPrompts: number;
  /** maxRequests of the batcher in the cost view (small, so the workload spans several batches). */
  costMaxRequests: number;
  /** Concurrency of the result consumer (and of its raw baseline). */
  consumerConcurrency: number;
  /** Results of the result-consumer section (the cost of `maxUnrecorded`). */
  consumerResults: number;
  /** The consumers that section measures (the smoke test takes one). */
  consumers: readonly Consumer[];
  /** Pairs (without, with) of the collector's metrics-overhead runs, at the largest stage size. */
  metricsPairs: number;
  /** Progress lines. */
  log: (line: string) => void;
}

/** Default options of a full run and of `--quick`. */
export function defaultOptions(quick: boolean): BenchOptions {
  return {
    quick,
    stageSizes: quick ? [10_000] : [100_000],
    e2eSizes: quick ? [1_000, 10_000] : [1_000, 10_000, 100_000],
    runs: quick ? 1 : 3,
    costRequests: quick ? 200 : 1_000,
    costPrompts: 20,
    costMaxRequests: 50,
    consumerConcurrency: 32,
    consumerResults: 10_000,
    consumers: CONSUMERS,
    metricsPairs: 3,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

/** One target of the stage issues, judged at the largest size of the run. */
export interface Target {
  issue: number;
  what: string;
  target: string;
  value: string;
  met: boolean;
  /** Set when the run's largest size is not the size the target names (quick runs). */
  note?: string;
}

export interface BenchResults {
  meta: {
    date: string;
    mode: 'full' | 'quick';
    command: string;
    durationS: number;
    machine: MachineInfo;
    /** The measured code: git HEAD and package sources with uncommitted changes at the time. */
    code: { commit: string; uncommitted: string[] };
    options: Omit<BenchOptions, 'log'>;
  };
  stages: StagesSize[];
  e2e: E2eSize[];
  footprint: Footprint;
  cost: CostView;
  consumer: ConsumerSection;
  metricsOverhead: MetricsOverhead;
  targets: Target[];
}

/** Runs the whole suite. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const started = Date.now();
  const code = codeVersion();
  const env = await BenchEnv.start();
  try {
    const machine = machineInfo(await env.redisVersion());
    const stages: StagesSize[] = [];
    let footprint: Footprint | undefined;
    for (const n of opts.stageSizes) {
      const r = await benchStages(env, n, opts.runs, opts.log);
      stages.push(r.size);
      footprint = r.footprint; // the largest size's (sizes ascend)
    }
    const e2e: E2eSize[] = [];
    for (const n of opts.e2eSizes) {
      const s = stages.find((x) => x.n === n);
      const stageRaw = s && {
        enqueueMs: s.producer.baselineMs,
        fetchBodyMs: s.batcher.baselineMs,
        iterateMs: s.collector.baselineMs,
      };
      e2e.push(await benchE2e(env, n, opts.runs, opts.consumerConcurrency, opts.log, stageRaw));
    }
    opts.log(`cost view: ${opts.costRequests} requests, ${opts.costPrompts} prompts`);
    const cost = await benchCost(env, opts.costRequests, opts.costPrompts, opts.costMaxRequests);
    const consumer = await benchConsumer(env, opts.consumers, opts.consumerResults, opts.runs, opts.log);
    const metricsOverhead = await benchMetricsOverhead(
      env,
      opts.stageSizes.at(-1)!,
      opts.metricsPairs,
      opts.log,
    );
    machine.loadAvg.end = loadAvg1();
    const { log: _log, ...options } = opts;
    return {
      meta: {
        date: new Date(started).toISOString(),
        mode: opts.quick ? 'quick' : 'full',
        command: opts.quick ? 'pnpm bench --quick' : 'pnpm bench',
        durationS: Math.round((Date.now() - started) / 1000),
        machine,
        code,
        options,
      },
      stages,
      e2e,
      footprint: footprint!,
      cost,
      consumer,
      metricsOverhead,
      targets: judgeTargets(stages, e2e),
    };
  } finally {
    await env.close();
  }
}

const fmt = (v: number, d = 0) =>
  v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/**
 * The Performance targets of issues 3, 4 and 5, judged on the medians at the largest stage size;
 * the collector's memory from the end-to-end runs' collector processes (10,000 vs the largest).
 */
export function judgeTargets(stages: StagesSize[], e2e: E2eSize[]): Target[] {
  const top = stages.at(-1)!;
  const note = top.n < 100_000 ? `measured at ${fmt(top.n)}, the target names 100,000` : undefined;
  const targets: Target[] = [
    {
      issue: 3,
      what: 'producer enqueueMany vs raw addBulk (throughput ratio)',
      target: '≥ 0.8×',
      value: `${fmt(top.producer.ratio.median, 2)}×`,
      met: top.producer.ratio.median >= 0.8,
    },
    {
      issue: 4,
      what: 'batcher claim + submit, time',
      target: '≤ 10 s',
      value: `${fmt(top.batcher.ms.median / 1000, 2)} s`,
      met: top.batcher.ms.median <= 10_000,
    },
    {
      issue: 4,
      what: 'batcher peak RSS',
      target: '≤ 400 MB',
      value: `${fmt(top.batcher.peakRssMB.median)} MB`,
      met: top.batcher.peakRssMB.median <= 400,
    },
    {
      issue: 5,
      what: 'collector apply rate',
      target: '≥ 20,000 results/s',
      value: `${fmt(top.collector.perSecond.median)} /s`,
      met: top.collector.perSecond.median >= 20_000,
    },
  ].map((t) => (note ? { ...t, note } : t));
  const ten = e2e.find((e) => e.n === 10_000);
  const big = e2e.at(-1);
  if (ten && big && big.n > ten.n) {
    const base = ten.peakRssMB.collector.median;
    const rss = big.peakRssMB.collector.median;
    targets.push({
      issue: 5,
      what: `collector process peak RSS at ${fmt(big.n)} vs 10,000 (end-to-end runs)`,
      target: 'within ±20 %',
      value: `${fmt(rss)} MB vs ${fmt(base)} MB (${fmt(((rss - base) / base) * 100, 1)} %)`,
      met: Math.abs(rss - base) <= 0.2 * base,
      ...(big.n < 100_000 ? { note: `measured at ${fmt(big.n)}, the target names 100,000` } : {}),
    });
  }
  return targets;
}
