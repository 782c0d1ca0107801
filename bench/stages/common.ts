/**
 * Helpers of a stage child: its arguments (one JSON argv), its protocol lines on stdout
 * (`{"bench":"ready"}`, then one `{"bench":"result",…}`), and its memory figures. Imports nothing
 * of Nightshift, so a raw baseline child loads only BullMQ, ioredis and the SDK.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

const MB = 1024 * 1024;
const round = (v: number) => Math.round(v * 10) / 10;
const startRss = process.memoryUsage().rss;

/** The arguments of every stage that works on a Redis: where, under which prefix, how many requests. */
export interface RedisStageArgs {
  redisUrl: string;
  prefix: string;
  n: number;
}

/** The JSON arguments the orchestrator passed. */
export function stageArgs<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error('a stage child takes one JSON argument');
  return JSON.parse(raw) as T;
}

/** Current RSS in MB. */
export const rssMB = () => round(process.memoryUsage().rss / MB);

/**
 * Peak RSS of this process so far, in MB: Linux's VmHWM (the high-water mark of this process's own
 * address space). Not `process.resourceUsage().maxRSS`: after fork + exec, Linux reports the larger
 * of the child's peak and the PARENT's RSS at spawn time (a 39 MB child of a 450 MB orchestrator
 * reports 404 MB). Elsewhere: the largest RSS sampled every 100 ms.
 */
export function peakRssMB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return round(Number(m[1]) / 1024);
  } catch {
    // not Linux
  }
  return Math.max(peaks.rssMB, rssMB());
}

function send(msg: object) {
  // Writes to a pipe are synchronous on Linux: the line is out before process.exit.
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** Tells the orchestrator a long-running child is ready for work. */
export function ready(extra: object = {}) {
  send({ bench: 'ready', ...extra });
}

// Sampled every 100 ms: what the peak RSS is made of (V8 heap vs buffers outside it).
const peaks = { rssMB: 0, heapUsedMB: 0, heapTotalMB: 0, externalMB: 0 };
setInterval(() => {
  const m = process.memoryUsage();
  peaks.rssMB = Math.max(peaks.rssMB, round(m.rss / MB));
  peaks.heapUsedMB = Math.max(peaks.heapUsedMB, round(m.heapUsed / MB));
  peaks.heapTotalMB = Math.max(peaks.heapTotalMB, round(m.heapTotal / MB));
  peaks.externalMB = Math.max(peaks.externalMB, round(m.external / MB));
}, 100).unref();

/** The one result line: the stage's figures plus its memory (start, peak RSS, sampled heap peaks). */
export function result(figures: object) {
  send({
    bench: 'result',
    ...figures,
    startRssMB: round(startRss / MB),
    peakRssMB: peakRssMB(),
    peak: peaks,
  });
}

/** Runs the child's main; any failure goes to stderr with exit code 1. */
export function runChild(main: () => Promise<void>) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

/** Resolves on SIGTERM (a long-running child's signal to report and exit). */
export const terminated = () => new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));

let gcTotalMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcTotalMs += e.duration;
}).observe({ entryTypes: ['gc'] });

/** What a timed section cost: wall time, this process's CPU time, and the part of it spent in GC. */
export interface Meter {
  /** Stops the meter (idempotent: the first stop counts). */
  stop(): { ms: number; cpuMs: number; gcMs: number };
}

/** Starts measuring a section of this process's work. */
export function meter(): Meter {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const gc0 = gcTotalMs;
  let done: { ms: number; cpuMs: number; gcMs: number } | undefined;
  return {
    stop: () => {
      if (!done) {
        const cpu = process.cpuUsage(cpu0);
        done = {
          ms: round(performance.now() - t0),
          cpuMs: round((cpu.user + cpu.system) / 1000),
          gcMs: round(gcTotalMs - gc0),
        };
      }
      return done;
    },
  };
}
