/**
 * Section 1–3 (and 6): each stage in its own child process beside its raw baseline, same n, same
 * run. One run = a clean Redis and emulator, then producer → batcher → collector on the Nightshift
 * side, then (on a flushed Redis) producer-raw → batcher-raw → collector-raw. The Redis footprint
 * is read between the steps of the first run, which also delivers every result (a result worker)
 * and samples the records' MEMORY USAGE.
 */

import { storeKeys } from '@nightshift/store/testing';
import { runStage, type StageMessage } from '../lib/child.js';
import type { BenchEnv } from '../lib/env.js';
import { loadAvg1 } from '../lib/machine.js';
import { benchCustomId } from '../lib/payloads.js';
import { field, type Summary } from '../lib/stats.js';

const PREFIX = 'ns';
const RAW_PREFIX = 'raw';

/** One stage beside its baseline over the runs of one size. */
export interface StageFigures {
  /** Stage time, ms. */
  ms: Summary;
  /** Baseline time, ms. */
  baselineMs: Summary;
  /** baseline ms / stage ms per run (1 = as fast as raw; higher is faster). */
  ratio: Summary;
  /** Items per second through the stage. */
  perSecond: Summary;
  baselinePerSecond: Summary;
  /** Peak RSS of the stage's process and of the baseline's, MB. */
  peakRssMB: Summary;
  baselinePeakRssMB: Summary;
  /**
   * Further figures: `cpuMs` / `gcMs` (the stage process during the timed section; GC as pause
   * time), `redisCpuMs` and `emuCpuMs` (redis-server and the emulator while the child ran), sampled
   * memory peaks `heapUsedMB` / `heapTotalMB` / `externalMB`, the same with a `baseline.` prefix,
   * and stage-specific ones.
   */
  extra: Record<string, Summary>;
}

/** Redis memory per request at one size (bytes, from INFO used_memory deltas). */
export interface Footprint {
  n: number;
  queuedBytesPerRequest: number;
  inflightBytesPerRequest: number;
  /** Results applied, their `{results}` jobs waiting for a consumer. */
  collectedBytesPerRequest: number;
  /** A result worker has handled every result: records compacted, result jobs removed. */
  deliveredBytesPerRequest: number;
  /** MEMORY USAGE of a delivered request's record key, the mean of a sample. */
  deliveredRecordBytes: number;
  rawBullmqWaitingBytesPerJob: number;
}

/** Records whose MEMORY USAGE is sampled after delivery. */
const RECORD_SAMPLE = 200;

export interface StagesSize {
  n: number;
  runs: number;
  /** 1-minute load average of the machine at the start of each run (other work skews timings). */
  loadAvg: Summary;
  producer: StageFigures;
  batcher: StageFigures;
  collector: StageFigures;
}

interface Run {
  p: StageMessage;
  b: StageMessage;
  c: StageMessage;
  pr: StageMessage;
  br: StageMessage;
  cr: StageMessage;
  footprint: Footprint;
  load: number;
}

/**
 * Runs a stage child and adds the CPU time redis-server and this process (the emulator, which lives
 * here) spent while it ran: with the child's own CPU time, where its wall time went.
 */
async function withCpu(env: BenchEnv, stage: string, args: object): Promise<StageMessage> {
  const redis0 = await env.redisCpuMs();
  const cpu0 = process.cpuUsage();
  const msg = await runStage(stage, args);
  const cpu = process.cpuUsage(cpu0);
  const redisCpuMs = Math.round((await env.redisCpuMs()) - redis0);
  return { ...msg, redisCpuMs, emuCpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

/** Mean MEMORY USAGE of the record keys of a sample of the run's requests. */
async function recordBytes(env: BenchEnv, n: number): Promise<number> {
  const step = Math.max(1, Math.floor(n / RECORD_SAMPLE));
  const keys = Array.from({ length: Math.min(n, RECORD_SAMPLE) }, (_, i) =>
    storeKeys(PREFIX).record(benchCustomId(i * step)),
  );
  const sizes = await Promise.all(keys.map((k) => env.redis.memory('USAGE', k)));
  return Math.round(sizes.reduce<number>((a, b) => a + Number(b), 0) / sizes.length);
}

async function oneRun(env: BenchEnv, n: number, footprintRun: boolean): Promise<Run> {
  await env.reset();
  const load = loadAvg1();
  const base = { redisUrl: env.redisUrl, prefix: PREFIX, n };
  const m0 = await env.usedMemory();
  const p = await withCpu(env, 'producer', base);
  const m1 = await env.usedMemory();
  const b = await withCpu(env, 'batcher', { ...base, emuUrl: env.emuUrl, mode: 'once' });
  const m2 = await env.usedMemory();
  const c = await withCpu(env, 'collector', { ...base, emuUrl: env.emuUrl });
  const m3 = await env.usedMemory();
  // The footprint run also delivers every result (a result worker, not timed): what a finished
  // request keeps once its result was handed over.
  let m4 = m3;
  let delivered = 0;
  if (footprintRun) {
    await runStage('consumer', { ...base, concurrency: 32 });
    m4 = await env.usedMemory();
    delivered = await recordBytes(env, n);
  }
  await env.flushRedis();
  const raw = { redisUrl: env.redisUrl, prefix: RAW_PREFIX, queue: 'requests', n };
  const r0 = await env.usedMemory();
  const pr = await withCpu(env, 'producer-raw', raw);
  const r1 = await env.usedMemory();
  const br = await withCpu(env, 'batcher-raw', raw);
  const cr = await withCpu(env, 'collector-raw', { emuUrl: env.emuUrl, batchIds: b.batchIds, n });
  const per = (bytes: number) => Math.round(bytes / n);
  const footprint: Footprint = {
    n,
    queuedBytesPerRequest: per(m1 - m0),
    inflightBytesPerRequest: per(m2 - m0),
    collectedBytesPerRequest: per(m3 - m0),
    deliveredBytesPerRequest: per(m4 - m0),
    deliveredRecordBytes: delivered,
    rawBullmqWaitingBytesPerJob: per(r1 - r0),
  };
  return { p, b, c, pr, br, cr, footprint, load };
}

const num = (m: StageMessage, k: string) => Number(m[k]);

/** CPU figures of one side: its process (and GC), redis-server, the emulator. */
function cpuFields(side: (r: Run) => StageMessage, prefix: string): Record<string, (r: Run) => number> {
  const out: Record<string, (r: Run) => number> = {};
  for (const k of ['cpuMs', 'gcMs', 'redisCpuMs', 'emuCpuMs', 'rssBeforeMB'])
    out[prefix + k] = (r) => num(side(r), k);
  for (const k of ['heapUsedMB', 'heapTotalMB', 'externalMB']) {
    out[prefix + k] = (r) => Number((side(r).peak as Record<string, number> | undefined)?.[k] ?? 0);
  }
  return out;
}

function figures(
  runs: Run[],
  stage: (r: Run) => StageMessage,
  raw: (r: Run) => StageMessage,
  extra: Record<string, (r: Run) => number> = {},
): StageFigures {
  const n = num(stage(runs[0]!), 'n');
  return {
    ms: field(runs, (r) => num(stage(r), 'ms')),
    baselineMs: field(runs, (r) => num(raw(r), 'ms')),
    ratio: field(runs, (r) => num(raw(r), 'ms') / num(stage(r), 'ms')),
    perSecond: field(runs, (r) => Math.round((n / num(stage(r), 'ms')) * 1000)),
    baselinePerSecond: field(runs, (r) => Math.round((n / num(raw(r), 'ms')) * 1000)),
    peakRssMB: field(runs, (r) => num(stage(r), 'peakRssMB')),
    baselinePeakRssMB: field(runs, (r) => num(raw(r), 'peakRssMB')),
    extra: Object.fromEntries(
      Object.entries({ ...cpuFields(stage, ''), ...cpuFields(raw, 'baseline.'), ...extra }).map(
        ([k, pick]) => [k, field(runs, pick)],
      ),
    ),
  };
}

/** Runs the stage benchmarks at size n, `runs` times; returns the figures and the first run's footprint. */
export async function benchStages(
  env: BenchEnv,
  n: number,
  runs: number,
  log: (line: string) => void,
): Promise<{ size: StagesSize; footprint: Footprint }> {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await oneRun(env, n, i === 0);
    log(
      `stages n=${n} run ${i + 1}/${runs}: producer ${r.p.ms} ms (raw ${r.pr.ms}), ` +
        `batcher ${r.b.ms} ms (raw ${r.br.ms}), collector ${r.c.ms} ms (raw ${r.cr.ms}) (load ${r.load})`,
    );
    all.push(r);
  }
  const size: StagesSize = {
    n,
    runs,
    loadAvg: field(all, (r) => r.load),
    producer: figures(
      all,
      (r) => r.p,
      (r) => r.pr,
    ),
    batcher: figures(
      all,
      (r) => r.b,
      (r) => r.br,
      {
        createMs: (r) => num(r.b, 'createMs'),
        bodyMB: (r) => num(r.b, 'bodyBytes') / 1e6,
        baselineFetchMs: (r) => num(r.br, 'fetchMs'),
        baselineStringifyMs: (r) => num(r.br, 'stringifyMs'),
      },
    ),
    collector: figures(
      all,
      (r) => r.c,
      (r) => r.cr,
      { totalMs: (r) => num(r.c, 'totalMs') },
    ),
  };
  return { size, footprint: all[0]!.footprint };
}
