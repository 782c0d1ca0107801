/**
 * Section 8: what the result worker's bound on unrecorded results costs. The same n results (already
 * in `{results}`, 100 to a job) are consumed by `createResultWorker` in a child process of its own,
 * once per `maxUnrecorded` setting, settings interleaved within each run: Infinity (no bound: the
 * record is written every 10 handled results and nobody waits for it, the behaviour before the
 * bound), 10 (the default), 1 and 0. Three kinds of consumer: an instant handler at concurrency 1
 * (the default) and 32, and a handler that awaits 1 ms (a database write's stand-in) at 32.
 */
import { runStage, type StageMessage } from '../lib/child.js';
import type { BenchEnv } from '../lib/env.js';
import { field, type Summary } from '../lib/stats.js';

/** The settings compared (null stands for Infinity: JSON has no Infinity). */
const BOUNDS: (number | null)[] = [null, 10, 1, 0];

/** A consumer: its handler's duration and its concurrency. */
export interface Consumer {
  label: string;
  concurrency: number;
  /** 0: the handler returns at once. */
  handlerMs: number;
}

/** The consumers measured. */
export const CONSUMERS: readonly Consumer[] = [
  { label: 'instant handler, concurrency 1', concurrency: 1, handlerMs: 0 },
  { label: 'instant handler, concurrency 32', concurrency: 32, handlerMs: 0 },
  { label: 'handler awaiting 1 ms, concurrency 32', concurrency: 32, handlerMs: 1 },
];

/** One consumer at one setting over the runs. */
interface ConsumerFigures {
  consumer: string;
  concurrency: number;
  /** `maxUnrecorded`; null = Infinity. */
  maxUnrecorded: number | null;
  ms: Summary;
  perSecond: Summary;
  /** This setting's throughput / the unbounded setting's, per run. */
  vsUnbounded: Summary;
  /** CPU of the consumer process per result, µs. */
  cpuUsPerResult: Summary;
  /** CPU of redis-server per result over the timed span, µs. */
  redisCpuUsPerResult: Summary;
}

export interface ConsumerSection {
  n: number;
  runs: number;
  figures: ConsumerFigures[];
}

const PREFIX = 'rc';

async function once(env: BenchEnv, n: number, c: Consumer, bound: number | null) {
  await env.flushRedis();
  return runStage('consumer-bound', {
    redisUrl: env.redisUrl,
    prefix: PREFIX,
    n,
    concurrency: c.concurrency,
    handlerMs: c.handlerMs,
    maxUnrecorded: bound,
  });
}

/** Runs each consumer at every setting, `runs` times. */
export async function benchConsumer(
  env: BenchEnv,
  consumers: readonly Consumer[],
  n: number,
  runs: number,
  log: (line: string) => void,
): Promise<ConsumerSection> {
  const all = new Map<string, StageMessage[]>();
  const key = (label: string, bound: number | null) => `${label}|${bound}`;
  for (let run = 0; run < runs; run++) {
    for (const c of consumers) {
      // Settings in a different order each run, so drift of the machine's load spreads over them.
      const order = BOUNDS.map((_, i) => BOUNDS[(i + run) % BOUNDS.length]!);
      for (const bound of order) {
        const m = await once(env, n, c, bound);
        log(`consumer n=${n} ${c.label}, maxUnrecorded ${bound ?? '∞'}: ${m.ms} ms`);
        all.set(key(c.label, bound), [...(all.get(key(c.label, bound)) ?? []), m]);
      }
    }
  }
  const num = (m: StageMessage, k: string) => Number(m[k]);
  const figures = consumers.flatMap((c) => {
    const free = all.get(key(c.label, null))!;
    return BOUNDS.map((bound): ConsumerFigures => {
      const ms = all.get(key(c.label, bound))!;
      return {
        consumer: c.label,
        concurrency: c.concurrency,
        maxUnrecorded: bound,
        ms: field(ms, (m) => num(m, 'ms')),
        perSecond: field(ms, (m) => Math.round((n / num(m, 'ms')) * 1000)),
        vsUnbounded: field(
          ms.map((m, i) => num(free[i]!, 'ms') / num(m, 'ms')),
          (x) => x,
        ),
        cpuUsPerResult: field(ms, (m) => (num(m, 'cpuMs') * 1000) / n),
        redisCpuUsPerResult: field(ms, (m) => (num(m, 'redisCpuMs') * 1000) / n),
      };
    });
  });
  return { n, runs, figures };
}
