import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KillEvent } from './faults.js';
import type { Delivery } from './workload.js';

/**
 * How long the pipeline took to get going again after each kind of failure, read from one run's own
 * records: the kill events of the harness (what each victim held, read just before the kill) and the
 * replicas' logs (pino JSON lines of the batchers; the event lines of the result workers). Every
 * figure is a list of milliseconds, one per occurrence.
 */
export interface RecoveryFigures {
  /** kill -9 of a batcher mid-flush (owning a submission, requests queued) → the next batch any batcher submits or adopts. */
  batcherFlush: number[];
  /** … → the dead flush's own submission settled (released or its batch adopted by recovery). */
  batcherSubmission: number[];
  /** kill -9 of a collector → each batch it was collecting taken up again by a collector. */
  collectorBatch: number[];
  /** kill -9 of a result worker → each job it had in hand completed by a worker. */
  resultJob: number[];
  /** Per result-worker kill and job: results the victim had handed out that the job handed out again. */
  resultRepeats: number[];
  /** A failed create (the batcher backed off) → the next create answered (accepted or not). */
  createAfterFailure: number[];
  /**
   * Occurrences left out because another kill of the same role (of a batcher, for creates) or a
   * Redis fault came before the recovery: their time measures the second failure too.
   */
  overlapped: number;
}

/** What else happened in the run: a recovery is measured only if none of it came in between. */
interface Disturbances {
  kills: KillEvent[];
  /** Redis faults, from the fault to Redis answering again. */
  redis: { at: number; back: number }[];
}

/** Whether nothing of `role` was killed (but `self`) and Redis did not fail between `from` and `to`. */
function undisturbed(d: Disturbances, role: KillEvent['role'], from: number, to: number, self?: KillEvent) {
  const killed = d.kills.some((k) => k !== self && k.role === role && k.at > from && k.at <= to);
  const redis = d.redis.some((f) => f.at <= to && f.back >= from);
  return !killed && !redis;
}

/** A line of a replica's log: pino's (`time`, `msg`) or a result worker's event (`ev`, `at`). */
type Line = Record<string, unknown> & { time?: number; msg?: string; ev?: string; at?: number; pid?: number };

/** Every JSON line of the logs of one role (`<role>-<index>.log`), in file order. */
function linesOf(logDir: string, role: string): Line[] {
  const out: Line[] = [];
  for (const file of readdirSync(logDir).filter((f) => f.startsWith(`${role}-`) && f.endsWith('.log'))) {
    for (const text of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      if (!text.startsWith('{')) continue;
      try {
        out.push(JSON.parse(text) as Line);
      } catch {
        // a line cut by a kill -9
      }
    }
  }
  return out;
}

/** The deliveries the result-worker processes logged, by custom_id (what the invariant checker reads). */
export function deliveriesFromLogs(logDir: string): Map<string, Delivery[]> {
  const out = new Map<string, Delivery[]>();
  for (const l of linesOf(logDir, 'results')) {
    if (l.ev !== 'delivery') continue;
    const cid = String(l.cid);
    const list = out.get(cid) ?? [];
    list.push({ jobId: String(l.job), jobCreatedAt: Number(l.created), at: Number(l.at) });
    out.set(cid, list);
  }
  return out;
}

/** The first time in `times` (ascending) after `t`, minus `t`; undefined if none. */
function after(times: number[], t: number): number | undefined {
  const next = times.find((x) => x > t);
  return next === undefined ? undefined : next - t;
}

/** Adds `ms` to `list` if nothing disturbed the recovery it measures, else counts it as overlapped. */
function keep(out: RecoveryFigures, list: number[], ms: number, clean: boolean) {
  if (clean) list.push(ms);
  else out.overlapped++;
}

function batcherRecovery(logDir: string, d: Disturbances, out: RecoveryFigures) {
  const lines = linesOf(logDir, 'batcher').sort((a, b) => Number(a.time) - Number(b.time));
  const commits = lines
    .filter((l) => l.msg === 'batch submitted' || l.msg === 'batch adopted')
    .map((l) => Number(l.time));
  for (const k of d.kills) {
    if (k.role !== 'batcher' || !k.submissions?.length || !k.queued) continue;
    const next = after(commits, k.at);
    if (next !== undefined)
      keep(out, out.batcherFlush, next, undisturbed(d, 'batcher', k.at, k.at + next, k));
    for (const sub of k.submissions) {
      const settled = lines.find(
        (l) =>
          Number(l.time) > k.at &&
          l.submissionId === sub &&
          (l.msg === 'submission released' || l.msg === 'batch adopted' || l.msg === 'batch submitted'),
      );
      if (!settled) continue;
      const ms = Number(settled.time) - k.at;
      keep(out, out.batcherSubmission, ms, undisturbed(d, 'batcher', k.at, k.at + ms, k));
    }
  }
  // Create answers: a failure is a backoff; the next answer is the next backoff or commit of a create.
  const answers = lines.filter(
    (l) => l.msg === 'create backoff' || (l.msg === 'batch submitted' && l.origin === 'created'),
  );
  answers.forEach((l, i) => {
    if (l.msg !== 'create backoff') return;
    const next = answers[i + 1];
    if (!next) return;
    const [from, to] = [Number(l.time), Number(next.time)];
    keep(out, out.createAfterFailure, to - from, undisturbed(d, 'batcher', from, to));
  });
}

function resultRecovery(logDir: string, d: Disturbances, out: RecoveryFigures) {
  const events = linesOf(logDir, 'results').filter((l) => l.ev);
  const completed = new Map<string, number[]>();
  for (const e of events) {
    if (e.ev === 'completed')
      completed.set(String(e.job), [...(completed.get(String(e.job)) ?? []), Number(e.at)]);
  }
  for (const k of d.kills) {
    if (k.role !== 'results') continue;
    const mine = events.filter((e) => e.pid === k.pid && Number(e.at) <= k.at);
    const held = new Set<string>();
    for (const e of mine) {
      if (e.ev === 'active') held.add(String(e.job));
      if (e.ev === 'completed') held.delete(String(e.job));
    }
    for (const job of held) {
      const done = after(completed.get(job) ?? [], k.at);
      if (done !== undefined) keep(out, out.resultJob, done, undisturbed(d, 'results', k.at, k.at + done, k));
      const before = new Set(mine.filter((e) => e.ev === 'delivery' && e.job === job).map((e) => e.cid));
      const again = new Set(
        events
          .filter((e) => e.ev === 'delivery' && e.job === job && e.pid !== k.pid && Number(e.at) > k.at)
          .map((e) => e.cid)
          .filter((cid) => before.has(cid)),
      );
      out.resultRepeats.push(again.size);
    }
  }
}

/** The recovery times of one run (see {@link RecoveryFigures}). */
export function measureRecovery(logDir: string, d: Disturbances): RecoveryFigures {
  const out: RecoveryFigures = {
    batcherFlush: [],
    batcherSubmission: [],
    collectorBatch: [],
    resultJob: [],
    resultRepeats: [],
    createAfterFailure: [],
    overlapped: 0,
  };
  batcherRecovery(logDir, d, out);
  for (const k of d.kills) {
    for (const b of k.batches ?? []) {
      if (b.resumedAt === undefined) continue;
      keep(out, out.collectorBatch, b.resumedAt - k.at, undisturbed(d, 'collector', k.at, b.resumedAt, k));
    }
  }
  resultRecovery(logDir, d, out);
  return out;
}
