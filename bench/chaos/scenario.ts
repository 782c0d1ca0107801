import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Emulator, type ProcessingMode, startEmulator } from '@nightshift/emulator';
import { createRedis, type RedisClient, Store } from '@nightshift/store';
import { diagnose } from './diagnose.js';
import { waitDrained } from './drain.js';
import {
  type ApiFaultPlan,
  ChaosMonkey,
  type FaultTally,
  type KillEvent,
  type KillPlan,
  type Progress,
  type RedisFaultPlan,
} from './faults.js';
import { Fleet } from './fleet.js';
import { type CheckReport, checkInvariants } from './invariants.js';
import { deliveriesFromLogs, measureRecovery, type RecoveryFigures } from './recovery.js';
import { ChaosRedis, type Fsync, type RedisFaultRecord } from './redis.js';
import { Workload } from './workload.js';

/** One chaos run: the load, the replicas, and the faults. */
export interface Scenario {
  name: string;
  /** One sentence for the report. */
  description: string;
  requests: number;
  /** Requests per enqueueMany call. */
  slice?: number;
  batchers: number;
  collectors: number;
  /**
   * Result workers as child processes (killable like the roles; `'results'` in the kill plan). Unset:
   * one result worker in the orchestrator, never killed.
   */
  resultWorkers?: number;
  /** 'fixture': short locks and backoffs and the CHAOS_* knobs; 'bin': the packages' own bin.ts with their defaults. */
  entry: 'bin' | 'fixture';
  fsync: Fsync;
  /** Enqueueing is spread over this long, ms. */
  enqueueMs: number;
  /** The fault phase ends when every plan has fired and kills are over, or after this long, ms. */
  maxChaosMs: number;
  processing?: ProcessingMode;
  kills?: KillPlan;
  redis?: RedisFaultPlan[];
  api?: ApiFaultPlan[];
  /** Fraction of requests the API always refuses (invalid_request_error): they must end dead. */
  poisonRate?: number;
  /** Fraction of processed requests answered `overloaded_error` (retryable). */
  transientRate?: number;
  /** Give up waiting for the run to drain after this long, ms (the checker then reports what is stuck). */
  drainTimeoutMs: number;
  seed: number;
}

/** What one run did and what the checker found. */
export interface RunReport {
  scenario: string;
  description: string;
  fsync: Fsync;
  requests: number;
  replicas: { batchers: number; collectors: number; resultWorkers: number; entry: 'bin' | 'fixture' };
  durationMs: number;
  drainMs: number;
  drained: boolean;
  kills: FaultTally['kills'];
  targetedKills: number;
  restarts: number;
  unexpectedExits: number;
  redisFaults: (RedisFaultRecord & { during: string })[];
  api: FaultTally['api'];
  /** Every HTTP fault the emulator answered with (faults and forced outcomes excluded). */
  apiFaultsFired: number;
  notTriggered: string[];
  expiredBatches: number;
  canceledBatches: number;
  operatorSweeps: number;
  enqueue: { calls: number; failedCalls: number };
  /** Where the replicas' logs are (bench/out/chaos/<run>). */
  logDir: string;
  /** Every kill -9, with what its victim held. */
  killEvents: KillEvent[];
  /** How long each recovery took (from the kill events and the replicas' logs). */
  recovery: RecoveryFigures;
  check: CheckReport;
}

/** NIGHTSHIFT_MAX_ATTEMPTS of every run. */
const MAX_ATTEMPTS = 3;
/**
 * The result-worker processes: concurrency and maxUnrecorded (a kill may repeat their sum per job),
 * and how long their handler takes (a database write's stand-in: a 100-result job then lasts long
 * enough for kills to land in it).
 */
export const RESULT_WORKER = { concurrency: 16, maxUnrecorded: 10, handlerMs: 10 };
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The timings that decide how long a recovery takes, as every run sets them (the report prints
 * them beside the measured recovery times). Production defaults are in RELIABILITY.md.
 */
export const CHAOS_PAUSES = {
  tickMs: 250,
  flushLockMs: 3000,
  submissionLeaseMs: 4000,
  collectorLockMs: 3000,
  resultLockMs: 3000,
  createBackoffMs: 300,
  maxCreateBackoffMs: 3000,
};

/** Environment of every replica. Short timings so that a run of minutes sees many cycles. */
function childEnv(
  redisUrl: string,
  emuUrl: string,
  prefix: string,
  entry: 'bin' | 'fixture',
  logDir: string,
) {
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    ANTHROPIC_BASE_URL: emuUrl,
    ANTHROPIC_API_KEY: 'test',
    NIGHTSHIFT_PREFIX: prefix,
    NIGHTSHIFT_LOG_LEVEL: 'info',
    NIGHTSHIFT_TICK_MS: String(CHAOS_PAUSES.tickMs),
    NIGHTSHIFT_MAX_REQUESTS: '100',
    NIGHTSHIFT_MAX_WAIT_MS: '500',
    NIGHTSHIFT_POLL_MS: '300',
    NIGHTSHIFT_MAX_POLL_MS: '1500',
    NIGHTSHIFT_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    NIGHTSHIFT_RETRY_BACKOFF_MS: '300',
    NIGHTSHIFT_CREATE_TIMEOUT_MS: '2500',
    NIGHTSHIFT_SUBMISSION_LEASE_MS: String(CHAOS_PAUSES.submissionLeaseMs),
    NIGHTSHIFT_NOT_FOUND_GRACE_MS: '4000',
    NIGHTSHIFT_ADOPT_ORPHANS: 'true',
    // Read by the result-worker processes only (fixtures/result-worker.ts).
    CHAOS_RESULT_LOCK_MS: String(CHAOS_PAUSES.resultLockMs),
    CHAOS_RESULT_HANDLER_MS: String(RESULT_WORKER.handlerMs),
    CHAOS_RESULT_CONCURRENCY: String(RESULT_WORKER.concurrency),
    CHAOS_RESULT_MAX_UNRECORDED: String(RESULT_WORKER.maxUnrecorded),
    CHAOS_READY_DIR: logDir,
  };
  if (entry === 'fixture') {
    Object.assign(env, {
      NIGHTSHIFT_CREATE_BACKOFF_MS: String(CHAOS_PAUSES.createBackoffMs),
      NIGHTSHIFT_MAX_CREATE_BACKOFF_MS: String(CHAOS_PAUSES.maxCreateBackoffMs),
      NIGHTSHIFT_FLUSH_LOCK_MS: String(CHAOS_PAUSES.flushLockMs),
      NIGHTSHIFT_COLLECTOR_LOCK_MS: String(CHAOS_PAUSES.collectorLockMs),
      CHAOS_HEARTBEAT_MS: '1000',
      CHAOS_TRANSIENT_RETRY_MS: '300',
      CHAOS_ORPHAN_MIN_AGE_MS: '3000',
      CHAOS_REQUEST_TIMEOUT_MS: '5000',
    });
  }
  return env;
}

/** Everything one run owns; `close()` tears it all down. */
class ChaosRun {
  readonly redis: ChaosRedis;
  readonly emu: Emulator;
  readonly admin: RedisClient;
  readonly store: Store;
  readonly fleet: Fleet;
  readonly work: Workload;
  readonly poison: Set<string>;
  readonly monkey: ChaosMonkey;
  readonly replayed = new Set<string>();
  readonly logDir: string;

  constructor(
    readonly s: Scenario,
    parts: { redis: ChaosRedis; emu: Emulator },
    readonly log: (msg: string) => void,
  ) {
    const prefix = 'chaos';
    const runId = `${s.name}-${Date.now().toString(36)}`;
    this.logDir = join(ROOT, 'bench/out/chaos', runId);
    mkdirSync(this.logDir, { recursive: true });
    this.redis = parts.redis;
    this.emu = parts.emu;
    this.admin = createRedis({ url: this.redis.url }, 'worker');
    this.admin.on('error', () => {});
    this.store = new Store(this.admin, prefix);
    this.fleet = new Fleet({
      env: childEnv(this.redis.url, this.emu.url, prefix, s.entry, this.logDir),
      logDir: this.logDir,
      entry: s.entry,
      heartbeatPids: async () => {
        // Result workers write no heartbeat: they drop `ready-<pid>` once they listen.
        const listening = readdirSync(this.logDir)
          .filter((f) => f.startsWith('ready-'))
          .map((f) => Number(f.slice(6)));
        return new Set([...(await this.store.heartbeats.list()).map((h) => h.pid), ...listening]);
      },
    });
    this.work = new Workload({
      redisUrl: this.redis.url,
      prefix,
      requests: s.requests,
      slice: s.slice ?? 100,
      runId,
    });
    const rate = s.poisonRate ?? 0;
    this.poison = new Set(this.work.cids.filter((_, i) => (i * 7919) % 1000 < rate * 1000));
    this.monkey = new ChaosMonkey({
      fleet: this.fleet,
      redis: this.redis,
      emu: this.emu,
      admin: this.admin,
      prefix,
      processing: processingOf(s),
      seed: s.seed,
      progress: () => this.progress(),
      afterRedisFault: (f) => this.replay(f),
      log,
    });
  }

  /** Forced outcomes: poison requests always refused; a rate of retryable `overloaded_error`. */
  injectOutcomes() {
    if (this.poison.size) {
      this.emu.control.injectOutcome({
        match: (cid) => this.poison.has(cid),
        outcome: 'errored',
        errorType: 'invalid_request_error',
        message: 'chaos: this request is refused every time',
      });
    }
    if (this.s.transientRate) {
      this.emu.control.injectOutcome({
        rate: this.s.transientRate,
        outcome: 'errored',
        errorType: 'overloaded_error',
      });
    }
  }

  async progress(): Promise<Progress> {
    const st = await this.store.stats.all();
    const batches = this.emu.inspect.batches();
    return {
      enqueued: this.work.acks.size / this.s.requests,
      final: ((st.succeeded ?? 0) + (st.dead ?? 0)) / this.s.requests,
      batches: batches.length,
      ended: batches.filter((b) => b.processing_status === 'ended').length,
    };
  }

  /** A service whose Redis lost its last second replays what it sent then (enqueueMany is idempotent). */
  async replay(f: RedisFaultRecord) {
    if (f.lossFrom === undefined) return;
    const lost = await this.work.replay(f.lossFrom - 50);
    for (const cid of lost) this.replayed.add(cid);
    this.log(`replayed the lost second: ${lost.length} acknowledged enqueues were missing`);
  }

  async close() {
    this.monkey.stop();
    this.monkey.disarm();
    await this.work.close().catch(() => undefined);
    await this.fleet.stopAll();
    this.admin.disconnect();
    await this.emu.close();
    await this.redis.stop();
  }
}

const processingOf = (s: Scenario): ProcessingMode => s.processing ?? { delayMs: 1200 };

/** Runs one scenario end to end and checks the invariants. Never throws for a broken invariant. */
export async function runScenario(s: Scenario, log: (msg: string) => void = () => {}): Promise<RunReport> {
  const tStart = Date.now();
  const redis = await ChaosRedis.start(s.fsync);
  const emu = await startEmulator({ processing: processingOf(s), quiet: true });
  const run = new ChaosRun(s, { redis, emu }, log);
  try {
    run.injectOutcomes();
    // A budget over everything, far above the run: every claim reserves in it and every success
    // settles in it, so the checker can see that no kill or Redis fault leaks a reservation.
    await run.store.budgets.set({ name: 'chaos', period: 'month', limitUsd: 1e6, mode: 'hold', alertAt: 1 });
    run.fleet.add('batcher', s.batchers);
    run.fleet.add('collector', s.collectors);
    if (s.resultWorkers) run.fleet.add('results', s.resultWorkers);
    else run.work.startSink();
    await run.fleet.waitReady(240_000);
    // The run's clock starts once every replica is up (start-up under tsx takes seconds on 2 cores).
    const t0 = Date.now();
    log(
      `${s.name}: ${s.requests} requests, ${s.batchers}+${s.collectors} replicas up after ${t0 - tStart} ms`,
    );
    const gap = Math.floor(s.enqueueMs / Math.ceil(s.requests / (s.slice ?? 100)));
    const enqueue = run.work.enqueueRange(0, s.requests, gap, () => false);
    await run.monkey.run(t0, s.maxChaosMs, { kills: s.kills, redis: s.redis, api: s.api });
    run.fleet.ensureAll();
    await enqueue;
    log(`${s.name}: faults over after ${Date.now() - t0} ms; draining`);
    const drainStart = Date.now();
    const drain = await waitDrained(s.drainTimeoutMs, run.work, run.admin, 'chaos', emu, log);
    const drainMs = Date.now() - drainStart;
    run.monkey.disarm();
    if (s.resultWorkers) {
      // Stopped (gracefully) so that their logs are complete before they are read.
      await run.fleet.stopAll();
      for (const [cid, list] of deliveriesFromLogs(run.logDir)) run.work.deliveries.set(cid, list);
    }
    const recovery = measureRecovery(run.logDir, {
      kills: run.monkey.tally.killEvents,
      redis: run.redis.faults,
    });
    return report(run, tStart, { drainMs, ...drain }, await checkRun(run, recovery), recovery);
  } finally {
    await run.close();
  }
}

async function checkRun(run: ChaosRun, recovery: RecoveryFigures): Promise<CheckReport> {
  const out = await checkInvariants({
    redis: run.admin,
    prefix: 'chaos',
    emu: run.emu,
    acks: run.work.acks,
    deliveries: run.work.deliveries,
    maxAttempts: MAX_ATTEMPTS,
    replayedLost: run.replayed,
    lossWindows: run.redis.faults.filter((f) => f.lossFrom).map((f) => ({ from: f.lossFrom!, to: f.at })),
    poison: run.poison,
  });
  const file = await diagnose({
    report: out,
    redis: run.admin,
    prefix: 'chaos',
    emu: run.emu,
    deliveries: run.work.deliveries,
    acks: run.work.acks,
    redisFaults: run.redis.faults,
    logDir: run.logDir,
  });
  if (file) run.log(`details of the broken invariants: ${file}`);
  const bound = RESULT_WORKER.maxUnrecorded + RESULT_WORKER.concurrency;
  const over = recovery.resultRepeats.filter((n) => n > bound);
  if (over.length) {
    out.ok = false;
    out.violations.push({
      invariant: `a killed result worker's job hands out again at most maxUnrecorded + concurrency (${bound}) results`,
      count: over.length,
      sample: over.slice(0, 5).map(String),
    });
  }
  const exits = run.fleet.unexpectedExits();
  if (exits.length) {
    out.ok = false;
    out.violations.push({
      invariant: 'no process exits unless killed by the harness',
      count: exits.length,
      sample: exits.slice(0, 5).map((e) => `${e.role}-${e.index}:${e.code ?? e.signal}`),
    });
  }
  return out;
}

function report(
  run: ChaosRun,
  tStart: number,
  drain: { drainMs: number; drained: boolean; sweeps: number },
  check: CheckReport,
  recovery: RecoveryFigures,
): RunReport {
  const { s, monkey } = run;
  return {
    scenario: s.name,
    description: s.description,
    fsync: s.fsync,
    requests: s.requests,
    replicas: {
      batchers: s.batchers,
      collectors: s.collectors,
      resultWorkers: s.resultWorkers ?? 0,
      entry: s.entry,
    },
    durationMs: Date.now() - tStart,
    drainMs: drain.drainMs,
    drained: drain.drained,
    kills: monkey.tally.kills,
    targetedKills: monkey.tally.targetedKills,
    restarts: run.fleet.restarts(),
    unexpectedExits: run.fleet.unexpectedExits().length,
    redisFaults: run.redis.faults.map((f, i) => ({ ...f, during: s.redis?.[i]?.during ?? '' })),
    api: monkey.tally.api,
    apiFaultsFired: run.emu.inspect.stats().faultsTriggered,
    notTriggered: monkey.tally.notTriggered,
    expiredBatches: monkey.tally.expiredBatches,
    canceledBatches: monkey.tally.canceledBatches,
    operatorSweeps: drain.sweeps,
    enqueue: { calls: run.work.enqueueCalls, failedCalls: run.work.enqueueFailures },
    logDir: run.logDir,
    killEvents: monkey.tally.killEvents,
    recovery,
    check,
  };
}
