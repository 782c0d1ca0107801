/**
 * The benchmark suite: stages beside their raw baselines, end to end, the scale curve, the Redis
 * footprint and the cost view. `runBench` returns every figure; `bench/run.ts` writes them out.
 * Timing targets are checked here (see `targets`), never in tests.
 */

import { BenchEnv } from './lib/env.js';
import { loadAvg1, type MachineInfo, machineInfo } from './lib/machine.js';
import { type Summary, summarize } from './lib/stats.js';
import { benchCost, type CostView } from './sections/cost.js';
import { benchE2e, type E2eSize } from './sections/e2e.js';
import { benchStages, type Footprint, type StagesSize } from './sections/stages.js';

/** What to run. */
export interface BenchOptions {
  /** Quick mode (CI smoke): smaller sizes, fewer runs. */
  quick: boolean;
  /** Sizes (requests) for the stages and end to end; the largest is the target size. */
  sizes: number[];
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
  /** Progress lines. */
  log: (line: string) => void;
}

/** Default options of a full run and of `--quick`. */
export function defaultOptions(quick: boolean): BenchOptions {
  return {
    quick,
    sizes: quick ? [1_000, 10_000] : [1_000, 10_000, 100_000],
    runs: quick ? 1 : 3,
    costRequests: quick ? 400 : 1_000,
    costPrompts: 20,
    costMaxRequests: 50,
    consumerConcurrency: 32,
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

/** End to end beside the sum of the raw baselines of the same size and run. */
export interface E2eResult extends E2eSize {
  /** producer-raw + batcher-raw + collector-raw (stage medians) + consumer-raw (this run), ms. */
  baselineSumMs: Summary;
  /** baseline sum / end-to-end time per run. */
  ratio: Summary;
}

export interface BenchResults {
  meta: {
    date: string;
    mode: 'full' | 'quick';
    command: string;
    durationS: number;
    machine: MachineInfo;
    options: Omit<BenchOptions, 'log'>;
  };
  stages: StagesSize[];
  e2e: E2eResult[];
  footprint: Footprint;
  cost: CostView;
  targets: Target[];
}

/** Runs the whole suite. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const started = Date.now();
  const env = await BenchEnv.start();
  try {
    const machine = machineInfo(await env.redisVersion());
    const stages: StagesSize[] = [];
    let footprint: Footprint | undefined;
    for (const n of opts.sizes) {
      const r = await benchStages(env, n, opts.runs, opts.log);
      stages.push(r.size);
      footprint = r.footprint; // the largest size's (sizes ascend)
    }
    const e2e: E2eResult[] = [];
    for (const n of opts.sizes) {
      const size = await benchE2e(env, n, opts.runs, opts.consumerConcurrency, opts.log);
      e2e.push(withBaseline(size, stages.find((s) => s.n === n)!));
    }
    opts.log(`cost view: ${opts.costRequests} requests, ${opts.costPrompts} prompts`);
    const cost = await benchCost(env, opts.costRequests, opts.costPrompts, opts.costMaxRequests);
    machine.loadAvg.end = loadAvg1();
    const { log: _log, ...options } = opts;
    return {
      meta: {
        date: new Date(started).toISOString(),
        mode: opts.quick ? 'quick' : 'full',
        command: opts.quick ? 'pnpm bench --quick' : 'pnpm bench',
        durationS: Math.round((Date.now() - started) / 1000),
        machine,
        options,
      },
      stages,
      e2e,
      footprint: footprint!,
      cost,
      targets: judgeTargets(stages),
    };
  } finally {
    await env.close();
  }
}

function withBaseline(size: E2eSize, stages: StagesSize): E2eResult {
  const stageRaw =
    stages.producer.baselineMs.median + stages.batcher.baselineMs.median + stages.collector.baselineMs.median;
  const sums = size.consumerBaselineMs.runs.map((kr) => stageRaw + kr);
  return {
    ...size,
    baselineSumMs: summarize(sums),
    ratio: summarize(sums.map((s, i) => s / size.ms.runs[i]!)),
  };
}

const fmt = (v: number, d = 0) =>
  v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The Performance targets of issues 3, 4 and 5, judged on the medians at the largest size. */
export function judgeTargets(stages: StagesSize[]): Target[] {
  const top = stages.at(-1)!;
  const note = top.n < 100_000 ? `measured at ${fmt(top.n)}, the target names 100,000` : undefined;
  const ten = stages.find((s) => s.n === 10_000);
  const rss = top.collector.peakRssMB.median;
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
  ];
  if (ten && ten !== top) {
    const base = ten.collector.peakRssMB.median;
    targets.push({
      issue: 5,
      what: `collector peak RSS at ${fmt(top.n)} vs 10,000`,
      target: 'within ±20 %',
      value: `${fmt(rss)} MB vs ${fmt(base)} MB (${fmt(((rss - base) / base) * 100, 1)} %)`,
      met: Math.abs(rss - base) <= 0.2 * base,
    });
  }
  return targets.map((t) => (note ? { ...t, note } : t));
}
