/**
 * Section 7: what the collector's metrics cost on its hot path. The same collector stage (n
 * results applied) with and without a metrics registry, in pairs whose order alternates, each on a
 * clean Redis and emulator with the batches the batcher made for it.
 */

import { runStage, type StageMessage } from '../lib/child.js';
import type { BenchEnv } from '../lib/env.js';
import { field, type Summary } from '../lib/stats.js';

const PREFIX = 'mx';

/** The collector with and without metrics at one size. */
export interface MetricsOverhead {
  n: number;
  pairs: number;
  /** Apply time, ms, without and with a registry. */
  offMs: Summary;
  onMs: Summary;
  /** Collector CPU during the apply, ms. */
  offCpuMs: Summary;
  onCpuMs: Summary;
  /** off ms / on ms per pair: 1 = no cost; below 1 = slower with metrics. */
  ratio: Summary;
  /** Size of one scrape of the collector's registry at the end, bytes. */
  scrapeBytes: number;
}

async function collect(env: BenchEnv, n: number, metrics: boolean): Promise<StageMessage> {
  await env.reset();
  const base = { redisUrl: env.redisUrl, prefix: PREFIX, n };
  await runStage('producer', base);
  await runStage('batcher', { ...base, emuUrl: env.emuUrl, mode: 'once' });
  return runStage('collector', { ...base, emuUrl: env.emuUrl, metrics });
}

export async function benchMetricsOverhead(
  env: BenchEnv,
  n: number,
  pairs: number,
  log: (line: string) => void,
): Promise<MetricsOverhead> {
  const runs: { off: StageMessage; on: StageMessage }[] = [];
  for (let i = 0; i < pairs; i++) {
    const first = i % 2 === 0;
    const a = await collect(env, n, !first);
    const b = await collect(env, n, first);
    const [off, on] = first ? [a, b] : [b, a];
    log(`metrics overhead n=${n} pair ${i + 1}/${pairs}: collector ${off.ms} ms without, ${on.ms} ms with`);
    runs.push({ off, on });
  }
  const num = (m: StageMessage, k: string) => Number(m[k]);
  return {
    n,
    pairs,
    offMs: field(runs, (r) => num(r.off, 'ms')),
    onMs: field(runs, (r) => num(r.on, 'ms')),
    offCpuMs: field(runs, (r) => num(r.off, 'cpuMs')),
    onCpuMs: field(runs, (r) => num(r.on, 'cpuMs')),
    ratio: field(runs, (r) => num(r.off, 'ms') / num(r.on, 'ms')),
    scrapeBytes: num(runs[0]!.on, 'scrapeBytes'),
  };
}
