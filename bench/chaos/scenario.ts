import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { startCollector } from '@nightshift/collector';
import { type Emulator, type ProcessingMode, startEmulator } from '@nightshift/emulator';
import { createLogger, QUEUES } from '@nightshift/shared';
import { createRedis, type RedisClient, Store } from '@nightshift/store';
import {
  type ApiFaultPlan,
  ChaosMonkey,
  type FaultTally,
  type KillPlan,
  type Progress,
  type RedisFaultPlan,
} from './faults.js';
import { Fleet } from './fleet.js';
import { type CheckReport, checkInvariants } from './invariants.js';
import { ChaosRedis, type Fsync, type RedisFaultRecord } from './redis.js';
import { sleep, Workload } from './workload.js';

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
  /** 'fixture' adds the CHAOS_* timing knobs; 'bin' runs the packages' own bin.ts as shipped. */
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
  replicas: { batchers: number; collectors: number; entry: 'bin' | 'fixture' };
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
  check: CheckReport;
}

const MAX_ATTEMPTS = 3;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Environment of every replica. Short timings so that a run of minutes sees many cycles. */
function childEnv(redisUrl: string, emuUrl: string, prefix: string, entry: 'bin' | 'fixture') {
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    ANTHROPIC_BASE_URL: emuUrl,
    ANTHROPIC_API_KEY: 'test',
    NIGHTSHIFT_PREFIX: prefix,
    NIGHTSHIFT_LOG_LEVEL: 'info',
    NIGHTSHIFT_TICK_MS: '250',
    NIGHTSHIFT_MAX_REQUESTS: '100',
    NIGHTSHIFT_MAX_WAIT_MS: '500',
    NIGHTSHIFT_POLL_MS: '300',
    NIGHTSHIFT_MAX_POLL_MS: '1500',
    NIGHTSHIFT_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    NIGHTSHIFT_RETRY_BACKOFF_MS: '300',
    NIGHTSHIFT_CREATE_TIMEOUT_MS: '2500',
    NIGHTSHIFT_SUBMISSION_LEASE_MS: '4000',
    NIGHTSHIFT_NOT_FOUND_GRACE_MS: '4000',
    NIGHTSHIFT_ADOPT_ORPHANS: 'true',
  };
  if (entry === 'fixture') {
    Object.assign(env, {
      CHAOS_CREATE_BACKOFF_MS: '300',
      CHAOS_MAX_CREATE_BACKOFF_MS: '3000',
      CHAOS_FLUSH_LOCK_MS: '3000',
      CHAOS_HEARTBEAT_MS: '1000',
      CHAOS_LOCK_MS: '3000',
      CHAOS_TRANSIENT_RETRY_MS: '300',
      CHAOS_ORPHAN_MIN_AGE_MS: '3000',
      CHAOS_REQUEST_TIMEOUT_MS: '5000',
    });
  }
  return env;
}

/** Runs one scenario end to end and checks the invariants. Never throws for a broken invariant. */
export async function runScenario(s: Scenario, log: (msg: string) => void = () => {}): Promise<RunReport> {
  const tStart = Date.now();
  const runId = `${s.name}-${tStart.toString(36)}`;
  const prefix = 'chaos';
  const logDir = join(ROOT, 'bench/out/chaos', runId);
  mkdirSync(logDir, { recursive: true });
  const processing = s.processing ?? { delayMs: 1200 };
  const redis = await ChaosRedis.start(s.fsync);
  const emu = await startEmulator({ processing, quiet: true });
  const admin = createRedis({ url: redis.url }, 'worker');
  admin.on('error', () => {});
  const store = new Store(admin, prefix);
  const heartbeatPids = async () => new Set((await store.heartbeats()).map((h) => h.pid));
  const fleet = new Fleet({
    env: childEnv(redis.url, emu.url, prefix, s.entry),
    logDir,
    entry: s.entry,
    heartbeatPids,
  });
  const work = new Workload({
    redisUrl: redis.url,
    prefix,
    requests: s.requests,
    slice: s.slice ?? 100,
    runId,
  });
  const poison = new Set(work.cids.filter((_, i) => s.poisonRate && (i * 7919) % 1000 < s.poisonRate * 1000));
  const progress = async (): Promise<Progress> => {
    const st = await store.stats();
    const batches = emu.inspect.batches();
    return {
      enqueued: work.acks.size / s.requests,
      final: ((st.succeeded ?? 0) + (st.dead ?? 0)) / s.requests,
      batches: batches.length,
      ended: batches.filter((b) => b.processing_status === 'ended').length,
    };
  };
  const monkey = new ChaosMonkey({
    fleet,
    redis,
    emu,
    admin,
    prefix,
    processing,
    seed: s.seed,
    progress,
    log,
  });
  try {
    if (poison.size) {
      emu.control.injectOutcome({
        match: (cid) => poison.has(cid),
        outcome: 'errored',
        errorType: 'invalid_request_error',
        message: 'chaos: this request is refused every time',
      });
    }
    if (s.transientRate) {
      emu.control.injectOutcome({ rate: s.transientRate, outcome: 'errored', errorType: 'overloaded_error' });
    }
    fleet.add('batcher', s.batchers);
    fleet.add('collector', s.collectors);
    work.startSink();
    await fleet.waitReady(180_000);
    // The run's clock starts once every replica is up (start-up under tsx takes seconds on 2 cores).
    const t0 = Date.now();
    log(
      `${s.name}: ${s.requests} requests, ${s.batchers}+${s.collectors} replicas up after ${t0 - tStart} ms, fsync ${s.fsync}`,
    );
    const slices = Math.ceil(s.requests / (s.slice ?? 100));
    let enqueueDone = false;
    const enqueue = work
      .enqueueRange(0, s.requests, Math.floor(s.enqueueMs / slices), () => false)
      .then(() => {
        enqueueDone = true;
      });
    await monkey.run(t0, s.maxChaosMs, { kills: s.kills, redis: s.redis, api: s.api });
    fleet.ensureAll();
    await enqueue;
    log(`${s.name}: faults over after ${Date.now() - t0} ms (enqueue done: ${enqueueDone}); draining`);
    const replayed = await replayLost(work, redis, log);
    const drainStart = Date.now();
    const drain = await waitDrained(s, work, admin, prefix, emu, log);
    const drainMs = Date.now() - drainStart;
    monkey.disarm();
    const check = await checkInvariants({
      redis: admin,
      prefix,
      emu,
      acks: work.acks,
      deliveries: work.deliveries,
      maxAttempts: MAX_ATTEMPTS,
      replayedLost: replayed,
      lossWindows: redis.faults.filter((f) => f.lossFrom).map((f) => ({ from: f.lossFrom!, to: f.at })),
      poison,
    });
    const exits = fleet.unexpectedExits();
    if (exits.length) {
      check.ok = false;
      check.violations.push({
        invariant: 'no process exits unless killed by the harness',
        count: exits.length,
        sample: exits.slice(0, 5).map((e) => `${e.role}-${e.index}:${e.code ?? e.signal}`),
      });
    }
    const stats = emu.inspect.stats();
    return {
      scenario: s.name,
      description: s.description,
      fsync: s.fsync,
      replicas: { batchers: s.batchers, collectors: s.collectors, entry: s.entry },
      durationMs: Date.now() - tStart,
      drainMs,
      drained: drain.drained,
      kills: monkey.tally.kills,
      targetedKills: monkey.tally.targetedKills,
      restarts: fleet.restarts(),
      unexpectedExits: exits.length,
      redisFaults: redis.faults.map((f, i) => ({ ...f, during: s.redis?.[i]?.during ?? '' })),
      api: monkey.tally.api,
      apiFaultsFired: stats.faultsTriggered,
      notTriggered: monkey.tally.notTriggered,
      expiredBatches: monkey.tally.expiredBatches,
      canceledBatches: monkey.tally.canceledBatches,
      operatorSweeps: drain.sweeps,
      enqueue: { calls: work.enqueueCalls, failedCalls: work.enqueueFailures },
      check,
    };
  } finally {
    monkey.stop();
    monkey.disarm();
    await work.close().catch(() => undefined);
    await fleet.stopAll();
    admin.disconnect();
    await emu.close();
    await redis.stop();
  }
}

/** After a power loss the producer replays what it sent in the lost second (enqueueMany is idempotent). */
async function replayLost(work: Workload, redis: ChaosRedis, log: (m: string) => void): Promise<Set<string>> {
  const lost = new Set<string>();
  for (const f of redis.faults) {
    if (f.lossFrom === undefined) continue;
    for (const cid of await work.replay(f.lossFrom - 50)) lost.add(cid);
  }
  if (lost.size) log(`replayed ${lost.size} acknowledged enqueues cut by a power loss`);
  return lost;
}

/**
 * Waits until the run has drained: every acknowledged request final, nothing open or in flight,
 * every batch at the emulator known and collected, every result consumed. Orphan adoption runs once
 * per 10 minutes per collector, so when only unknown batches remain an operator sweep
 * (`sweepNow`, what `nightshift` would run) is made, as an operator would after an incident.
 */
async function waitDrained(
  s: Scenario,
  work: Workload,
  admin: RedisClient,
  prefix: string,
  emu: Emulator,
  log: (m: string) => void,
): Promise<{ drained: boolean; sweeps: number }> {
  const store = new Store(admin, prefix);
  const until = Date.now() + s.drainTimeoutMs;
  let sweeps = 0;
  let onlyUnknownSince = 0;
  let last = '';
  while (Date.now() < until) {
    const p = await pending(store, work, emu);
    const summary = JSON.stringify(p);
    if (summary !== last) {
      log(`drain: ${summary}`);
      last = summary;
    }
    if (p.open + p.inflight + p.notFinal + p.unknownBatches + p.unconsumed === 0)
      return { drained: true, sweeps };
    if (p.open + p.inflight + p.notFinal === 0 && p.unknownBatches > 0) {
      onlyUnknownSince ||= Date.now();
      if (Date.now() - onlyUnknownSince > 5_000) {
        await operatorSweep(admin, prefix, emu.url);
        sweeps++;
        onlyUnknownSince = 0;
      }
    } else onlyUnknownSince = 0;
    await sleep(500);
  }
  return { drained: false, sweeps };
}

async function pending(store: Store, work: Workload, emu: Emulator) {
  const cids = [...work.acks.keys()];
  let notFinal = 0;
  for (let i = 0; i < cids.length; i += 1000) {
    const recs = await store.peek(cids.slice(i, i + 1000), ['state']);
    notFinal += recs.filter((r) => r?.state !== 'succeeded' && r?.state !== 'dead').length;
  }
  let unknownBatches = 0;
  for (const b of emu.inspect.batches()) {
    const known = await store.batch(b.id);
    if (known?.state !== 'collected') unknownBatches++;
  }
  const q = `${store.prefix}:${QUEUES.results}`;
  const waiting = await Promise.all([
    store.redis.llen(`${q}:wait`),
    store.redis.llen(`${q}:active`),
    store.redis.zcard(`${q}:delayed`),
    store.redis.zcard(`${q}:prioritized`),
  ]);
  return {
    notFinal,
    open: await store.redis.scard(store.keys.openSubmissions),
    inflight: await store.redis.scard(store.keys.inflight),
    unknownBatches,
    unconsumed: waiting.reduce((a, b) => a + b, 0),
  };
}

/** One collector sweep with orphan adoption, in-process (an operator's `sweepNow`). */
async function operatorSweep(admin: RedisClient, prefix: string, emuUrl: string) {
  const c = await startCollector({
    connection: admin,
    prefix,
    client: new Anthropic({ apiKey: 'test', baseURL: emuUrl }),
    runWorker: false,
    adoptOrphans: true,
    orphanMinAgeMs: 1,
    logger: createLogger('chaos-operator', 'silent'),
  });
  try {
    await c.sweepNow();
  } finally {
    await c.close();
  }
}
