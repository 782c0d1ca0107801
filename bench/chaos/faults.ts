import type { Emulator, Fault, ProcessingMode } from '@nightshift/emulator';
import { QUEUES } from '@nightshift/shared';
import type { RedisClient } from '@nightshift/store';
import { Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import type { Fleet, Role } from './fleet.js';
import type { ChaosRedis, RedisFaultRecord } from './redis.js';
import { sleep } from './workload.js';

/** A deterministic PRNG (mulberry32): the same seed gives the same choices. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (r: () => number, [lo, hi]: [number, number]) => lo + Math.floor(r() * (hi - lo + 1));

/** How far a run is: what fraction is enqueued and final, and how many batches the API has seen. */
export interface Progress {
  enqueued: number;
  final: number;
  batches: number;
  /** Batches the API has ended (results available). */
  ended: number;
}

/**
 * When a fault fires: every given condition must hold (fractions of the run's requests, batch
 * counts, ms since the replicas were up). Progress, not wall time, so that a fault hits the phase it
 * is meant for (enqueue, flush, collection) however loaded the machine is.
 */
export interface Trigger {
  afterMs?: number;
  enqueued?: number;
  final?: number;
  batches?: number;
  ended?: number;
}

/** Random kill -9 of replicas, with restarts. */
export interface KillPlan {
  roles: Role[];
  /** Pause between two kills, ms. */
  everyMs: [number, number];
  /** How long a killed replica stays down before it is started again, ms. */
  downMs: [number, number];
  /**
   * Also kill at the risky moments: the batcher owning a submission in state `creating` (between
   * `batches.create` and commit), a collector as a results stream starts and a result worker holding
   * a `{results}` job; probability per sighting.
   */
  targeted?: number;
  /** Kills stop once this fraction of the requests is final. @defaultValue 0.9 */
  untilFinal?: number;
}

/** A Redis fault. */
export interface RedisFaultPlan {
  when: Trigger;
  kind: 'crash' | 'power-loss' | 'outage' | 'freeze';
  /** outage/freeze: how long; power-loss: how much of the AOF tail is cut (≤ 1,000 ms). */
  ms?: number;
  /** What the run is doing then (enqueue, flush, collection), for the report. */
  during: string;
}

/** An API fault from the emulator. */
export type ApiFaultPlan = { when: Trigger; label: string } & (
  | { fault: Fault; removeAfterMs?: number }
  /**
   * New batches are held (manual processing) until one is created (at most `windowMs`), half
   * processed, then expire (clock + 24 h).
   */
  | { expire: { windowMs: number } }
  /** The operator cancels up to `count` batches in progress (waiting up to 30 s for one). */
  | { cancel: { count: number } }
);

/** One kill -9, with what the victim was doing (read just before the kill) for the recovery times. */
export interface KillEvent {
  role: Role;
  index: number;
  pid: number;
  /** When the SIGKILL was sent, ms. */
  at: number;
  /** Killed at a risky moment (a submission in `creating`, a results stream starting, a result job in hand). */
  targeted: boolean;
  /** batcher: the submissions it owned in `claiming`/`creating` (it was mid-flush). */
  submissions?: string[];
  /** batcher: requests were queued at the kill (a flush had work to do). */
  queued?: boolean;
  /**
   * collector: the `{batches}` tracking jobs it was working on (BullMQ's `processedBy`), and when a
   * collector took each up again (the job's `processedOn`, watched after the kill).
   */
  batches?: { job: string; resumedAt?: number }[];
}

/** What was injected, for the report. */
export interface FaultTally {
  kills: Record<Role, number>;
  /** Every kill -9, in order. */
  killEvents: KillEvent[];
  targetedKills: number;
  /** Per API fault label: injected, and how often it fired. */
  api: Record<string, { injected: number; fired: number }>;
  expiredBatches: number;
  canceledBatches: number;
  /** Plans whose trigger never came (the run ended first). */
  notTriggered: string[];
}

interface Deps {
  fleet: Fleet;
  redis: ChaosRedis;
  emu: Emulator;
  admin: RedisClient;
  prefix: string;
  processing: ProcessingMode;
  seed: number;
  progress: () => Promise<Progress>;
  /** Called once Redis answers again after a fault (the service side replays after a power loss). */
  afterRedisFault?: (f: RedisFaultRecord) => Promise<void>;
  log: (msg: string) => void;
}

/** Runs the fault plans of one run against its processes, Redis and emulator. */
export class ChaosMonkey {
  readonly tally: FaultTally = {
    kills: { batcher: 0, collector: 0, results: 0 },
    killEvents: [],
    targetedKills: 0,
    api: {},
    expiredBatches: 0,
    canceledBatches: 0,
    notTriggered: [],
  };
  private readonly handles: { label: string; hits(): number; remove(): void }[] = [];
  private readonly restarts = new Set<Promise<void>>();
  private stopped = false;
  private disarmed = false;
  private readonly random: () => number;
  private now: Progress = { enqueued: 0, final: 0, batches: 0, ended: 0 };
  /** Expiries run one at a time: each switches the emulator to manual processing and back. */
  private expiring: Promise<unknown> = Promise.resolve();
  private t0 = 0;

  constructor(private readonly deps: Deps) {
    this.random = rng(deps.seed);
  }

  /** Runs every plan, for at most `maxMs` from `t0`; resolves when all of them are done. */
  async run(
    t0: number,
    maxMs: number,
    plans: { kills?: KillPlan; redis?: RedisFaultPlan[]; api?: ApiFaultPlan[] },
  ): Promise<void> {
    this.t0 = t0;
    const until = t0 + maxMs;
    const watching = this.watch(until);
    const tasks: Promise<void>[] = [];
    if (plans.kills) {
      tasks.push(this.killLoop(plans.kills, until));
      if (plans.kills.targeted) tasks.push(this.targetedLoop(plans.kills, until));
    }
    // Redis faults run one after the other (each waits for the previous restart).
    tasks.push(
      (async () => {
        for (const p of plans.redis ?? []) {
          if (await this.when(p.when, until, `redis ${p.kind} during ${p.during}`)) await this.redisFault(p);
        }
      })(),
    );
    for (const p of plans.api ?? []) {
      tasks.push(this.when(p.when, until, p.label).then((ok) => (ok ? this.apiFault(p) : undefined)));
    }
    await Promise.all(tasks);
    this.stopped = true;
    await watching;
    await Promise.all(this.restarts);
  }

  /** Stops the loops; armed HTTP faults stay until they fired (`times`), except `removeAfterMs` ones. */
  stop(): void {
    this.stopped = true;
  }

  /** Removes every HTTP fault still armed and fills in how often each fired; stops the watchers. */
  disarm(): void {
    this.disarmed = true;
    for (const h of this.handles) {
      h.remove();
      const t = this.tally.api[h.label];
      if (t) t.fired += h.hits();
    }
    this.handles.length = 0;
  }

  private async watch(until: number) {
    while (!this.stopped && Date.now() < until) {
      try {
        this.now = await this.deps.progress();
      } catch {
        // Redis down: keep the last reading.
      }
      await sleep(250);
    }
  }

  /** Waits for a trigger; false when the run's chaos time ran out first. */
  private async when(t: Trigger, until: number, label: string): Promise<boolean> {
    for (;;) {
      const p = this.now;
      const ok =
        Date.now() - this.t0 >= (t.afterMs ?? 0) &&
        p.enqueued >= (t.enqueued ?? 0) &&
        p.final >= (t.final ?? 0) &&
        p.batches >= (t.batches ?? 0) &&
        p.ended >= (t.ended ?? 0);
      if (ok) return true;
      if (Date.now() >= until) {
        this.tally.notTriggered.push(label);
        return false;
      }
      await sleep(100);
    }
  }

  private async killLoop(plan: KillPlan, until: number) {
    let turn = 0;
    while (Date.now() < until && this.now.final < (plan.untilFinal ?? 0.9)) {
      await sleep(between(this.random, plan.everyMs));
      // Roles take turns (every role is hit even in a short run); the replica is drawn at random.
      const role = plan.roles[turn++ % plan.roles.length]!;
      const victim = await this.victim(role);
      if (victim !== undefined) await this.kill(role, victim, plan);
    }
  }

  /**
   * A replica to kill: one that is up (heartbeat sent; killing one still loading its modules tests
   * nothing), and never the last one up, so the run keeps moving between kills.
   */
  private async victim(role: Role): Promise<number | undefined> {
    const ready = await this.deps.fleet.ready(role).catch(() => []);
    if (ready.length < 2) return undefined;
    return ready[Math.floor(this.random() * ready.length)]!.index;
  }

  private async kill(role: Role, index: number, plan: KillPlan, targeted = false): Promise<boolean> {
    const pid = this.deps.fleet.list(role).find((s) => s.index === index)?.pid;
    if (pid === undefined) return false;
    const context = await this.victimContext(role, pid).catch(() => ({})); // Redis may be down
    const at = Date.now();
    if (!(await this.deps.fleet.kill9(role, index))) return false;
    this.tally.kills[role]++;
    const event: KillEvent = { role, index, pid, at, targeted, ...context };
    this.tally.killEvents.push(event);
    this.deps.log(`kill -9 ${role}-${index}`);
    // Watched until disarm(), not awaited by run(): the batches resume while the run drains.
    if (event.batches?.length) void this.watchResumed(event);
    const p = sleep(between(this.random, plan.downMs)).then(() => this.deps.fleet.restart(role, index));
    this.restarts.add(p);
    void p.finally(() => this.restarts.delete(p));
    return true;
  }

  /** What the process about to be killed holds: its open submissions, or its tracking jobs. */
  private async victimContext(role: Role, pid: number): Promise<Partial<KillEvent>> {
    const store = new Store(this.deps.admin, this.deps.prefix);
    if (role === 'batcher') {
      const submissions: string[] = [];
      for (const id of await store.submissions.openIds()) {
        const sub = await store.submissions.get(id);
        const mine = Number(sub?.owner.split('-').at(-1)) === pid;
        if (mine && (sub?.state === 'claiming' || sub?.state === 'creating')) submissions.push(id);
      }
      return { submissions, queued: (await rawStore(store).redis.zcard(rawStore(store).keys.groups)) > 0 };
    }
    if (role === 'collector') {
      const q = `${this.deps.prefix}:${QUEUES.batches}`;
      const active = await rawStore(store).redis.lrange(`${q}:active`, 0, -1);
      const by = await Promise.all(active.map((job) => rawStore(store).redis.hget(`${q}:${job}`, 'pb')));
      // A collector's instance is `<host>-<pid>-<random>`.
      const batches = active.filter((_, i) => by[i]?.includes(`-${pid}-`)).map((job) => ({ job }));
      return { batches };
    }
    return {};
  }

  /** Until each batch the killed collector held is taken up again: its job's next `processedOn`. */
  private async watchResumed(event: KillEvent) {
    const q = `${this.deps.prefix}:${QUEUES.batches}`;
    while (!this.disarmed && event.batches!.some((b) => b.resumedAt === undefined)) {
      for (const b of event.batches!) {
        if (b.resumedAt !== undefined) continue;
        const on = Number(await this.deps.admin.hget(`${q}:${b.job}`, 'processedOn').catch(() => 0));
        if (on > event.at) b.resumedAt = on;
      }
      await sleep(100);
    }
  }

  /** Watches for the risky moments and kills there (with the plan's probability, 1 s apart at least). */
  private async targetedLoop(plan: KillPlan, until: number) {
    const store = new Store(this.deps.admin, this.deps.prefix);
    let lastKill = 0;
    let streams = this.deps.emu.inspect.stats().resultStreams;
    while (Date.now() < until && this.now.final < (plan.untilFinal ?? 0.9)) {
      await sleep(30);
      const p = plan.targeted ?? 0;
      if (Date.now() - lastKill < 1000) continue;
      try {
        if (plan.roles.includes('batcher')) {
          const ready = await this.deps.fleet.ready('batcher');
          for (const id of ready.length > 1 ? await store.submissions.openIds() : []) {
            const sub = await store.submissions.get(id);
            const pid = Number(sub?.owner.split('-').at(-1));
            const slot = sub?.state === 'creating' ? ready.find((r) => r.pid === pid) : undefined;
            if (slot && this.random() < p) {
              await this.kill('batcher', slot.index, plan, true);
              this.tally.targetedKills++;
              lastKill = Date.now();
              break;
            }
          }
        }
        const seen = this.deps.emu.inspect.stats().resultStreams;
        if (plan.roles.includes('collector') && seen > streams && this.random() < p) {
          const victim = await this.victim('collector');
          if (victim !== undefined) {
            await this.kill('collector', victim, plan, true);
            this.tally.targetedKills++;
            lastKill = Date.now();
          }
        }
        streams = seen;
        if (plan.roles.includes('results') && (await this.killBusyResultWorker(plan, p))) {
          lastKill = Date.now();
        }
      } catch {
        // Redis may be down during a Redis fault: look again on the next round.
      }
    }
  }

  /** A result worker in the middle of a `{results}` job (its `processedBy`), killed with probability p. */
  private async killBusyResultWorker(plan: KillPlan, p: number): Promise<boolean> {
    const ready = await this.deps.fleet.ready('results');
    if (ready.length < 2) return false;
    const q = `${this.deps.prefix}:${QUEUES.results}`;
    const active = await this.deps.admin.lrange(`${q}:active`, 0, -1);
    if (active.length === 0) return false;
    const by = await Promise.all(active.map((job) => this.deps.admin.hget(`${q}:${job}`, 'pb')));
    // A result worker's name is `result-worker-<host>-<pid>`.
    const busy = ready.find((r) => by.some((b) => b?.endsWith(`-${r.pid}`)));
    if (!busy || this.random() >= p) return false;
    if (!(await this.kill('results', busy.index, plan, true))) return false;
    this.tally.targetedKills++;
    return true;
  }

  private async redisFault(p: RedisFaultPlan) {
    const { redis, log } = this.deps;
    log(`redis ${p.kind} during ${p.during} (progress ${JSON.stringify(this.now)})`);
    let f: RedisFaultRecord;
    if (p.kind === 'crash') f = await redis.crash();
    else if (p.kind === 'power-loss') f = await redis.powerLoss(p.ms ?? 1000);
    else if (p.kind === 'outage') f = await redis.outage(p.ms ?? 3000);
    else f = await redis.freeze(p.ms ?? 3000);
    log(`redis back after ${p.kind}${f.bytesLost ? ` (${f.bytesLost} AOF bytes cut)` : ''}`);
    await this.deps.afterRedisFault?.(f);
  }

  private async apiFault(p: ApiFaultPlan) {
    const { emu, log } = this.deps;
    const t = this.tally.api[p.label] ?? { injected: 0, fired: 0 };
    this.tally.api[p.label] = t;
    t.injected++;
    log(`api ${p.label}`);
    if ('fault' in p) {
      const h = emu.control.injectFault(p.fault);
      this.handles.push({ label: p.label, hits: () => h.hits(), remove: () => h.remove() });
      if (p.removeAfterMs) {
        await sleep(p.removeAfterMs);
        h.remove();
      }
    } else if ('expire' in p) {
      const run = this.expiring.then(() => this.expire(p.expire.windowMs));
      this.expiring = run.catch(() => undefined);
      t.fired += await run;
    } else {
      const inProgress = () => emu.inspect.batches().filter((b) => b.processing_status === 'in_progress');
      const until = Date.now() + 30_000;
      while (inProgress().length === 0 && Date.now() < until) await sleep(50);
      const live = inProgress();
      for (const b of live.slice(0, p.cancel.count)) emu.control.cancelAsOperator(b.id);
      const n = Math.min(live.length, p.cancel.count);
      this.tally.canceledBatches += n;
      t.fired += n;
    }
  }

  /**
   * Batches created during the window are held (manual processing), half processed, then the
   * emulator clock jumps 24 h so they expire, and jumps back (synchronously: no API call sees the
   * jump). Their unprocessed requests come back as `expired`.
   */
  private async expire(windowMs: number): Promise<number> {
    const { emu } = this.deps;
    const before = new Set(emu.inspect.batches().map((b) => b.id));
    const fresh = () =>
      emu.inspect.batches().filter((b) => !before.has(b.id) && b.processing_status === 'in_progress');
    emu.control.setProcessing('manual');
    // Hold at least one new batch (the batchers may be between flushes), for at most windowMs.
    const until = Date.now() + windowMs;
    await sleep(1000);
    while (fresh().length === 0 && Date.now() < until) await sleep(100);
    emu.control.setProcessing(this.deps.processing);
    const held = fresh();
    for (const b of held) emu.control.process(b.id, Math.floor(b.request_counts.processing / 2));
    emu.clock.advance(24 * 3_600_000);
    emu.inspect.batches();
    emu.clock.advance(-24 * 3_600_000);
    this.tally.expiredBatches += held.length;
    return held.length;
  }
}
