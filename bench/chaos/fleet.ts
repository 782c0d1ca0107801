import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceNodeArgs } from '@nightshift/testing';

/** The roles the chaos harness runs as child processes ('results': the service's result worker). */
export type Role = 'batcher' | 'collector' | 'results';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/role.ts', import.meta.url));
/** The result worker has no bin: a service runs it; this fixture runs it as one would. */
const RESULTS_FIXTURE = fileURLToPath(new URL('./fixtures/result-worker.ts', import.meta.url));
const BINS: Record<Exclude<Role, 'results'>, string> = {
  batcher: join(ROOT, 'packages/batcher/src/bin.ts'),
  collector: join(ROOT, 'packages/collector/src/bin.ts'),
};

/** One replica slot: the process now in it (if any) and what happened to it. */
interface Slot {
  role: Role;
  index: number;
  child: ChildProcess | undefined;
  starts: number;
  /** Exits we did not cause (a crash would show here: the harness expects none). */
  unexpectedExits: { code: number | null; signal: string | null }[];
  killing: boolean;
}

/** Options of {@link Fleet}. */
export interface FleetOptions {
  /** Environment of every child (NIGHTSHIFT_*, REDIS_URL, ANTHROPIC_*, CHAOS_* knobs). */
  env: Record<string, string>;
  /** Directory for one log file per slot (appended across restarts). */
  logDir: string;
  /**
   * 'bin': the packages' real `src/bin.ts`; 'fixture': `fixtures/role.ts` (same code path plus the
   * CHAOS_* timing knobs).
   */
  entry: 'bin' | 'fixture';
  /** The pids that have written a heartbeat, or said they listen (a replica is ready once its pid is among them). */
  heartbeatPids: () => Promise<Set<number>>;
}

/**
 * The batcher and collector replicas of one chaos run, as real child processes
 * (`sourceNodeArgs`: one OS process each, so SIGKILL really kills the role).
 */
export class Fleet {
  private readonly slots: Slot[] = [];
  readonly kills: Record<Role, number> = { batcher: 0, collector: 0, results: 0 };

  constructor(private readonly opts: FleetOptions) {
    // If the harness itself dies, its replicas must not outlive it.
    process.once('exit', () => {
      for (const s of this.slots) if (isAlive(s.child)) s.child.kill('SIGKILL');
    });
  }

  /** Starts `count` replicas of a role. */
  add(role: Role, count: number): void {
    for (let i = 0; i < count; i++) {
      const slot: Slot = { role, index: i, child: undefined, starts: 0, unexpectedExits: [], killing: false };
      this.slots.push(slot);
      this.launch(slot);
    }
  }

  private launch(slot: Slot): void {
    const log = openSync(join(this.opts.logDir, `${slot.role}-${slot.index}.log`), 'a');
    const args =
      slot.role === 'results'
        ? sourceNodeArgs(RESULTS_FIXTURE)
        : this.opts.entry === 'bin'
          ? sourceNodeArgs(BINS[slot.role])
          : sourceNodeArgs(FIXTURE, slot.role);
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.opts.env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    slot.child = child;
    slot.starts++;
    slot.killing = false;
    child.once('exit', (code, signal) => {
      if (slot.child === child && !slot.killing) slot.unexpectedExits.push({ code, signal });
    });
  }

  /** The slots of a role (or all). */
  list(role?: Role): { role: Role; index: number; pid: number | undefined; alive: boolean }[] {
    return this.slots
      .filter((s) => !role || s.role === role)
      .map((s) => ({ role: s.role, index: s.index, pid: s.child?.pid, alive: isAlive(s.child) }));
  }

  /** Alive replicas of a role whose process has sent a heartbeat (started, not still loading). */
  async ready(role?: Role): Promise<{ role: Role; index: number; pid: number }[]> {
    const pids = await this.opts.heartbeatPids();
    return this.slots
      .filter((s) => (!role || s.role === role) && isAlive(s.child) && pids.has(s.child.pid ?? -1))
      .map((s) => ({ role: s.role, index: s.index, pid: s.child!.pid! }));
  }

  /** Waits until every replica runs and has sent a heartbeat. */
  async waitReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((await this.ready().catch(() => [])).length < this.slots.length) {
      if (Date.now() > until) throw new Error(`replicas not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The slot whose process has this pid, if any. */
  byPid(pid: number): { role: Role; index: number } | undefined {
    const s = this.slots.find((x) => x.child?.pid === pid && isAlive(x.child));
    return s ? { role: s.role, index: s.index } : undefined;
  }

  /** SIGKILL the process in a slot (no-op if it is not running). Resolves once it has exited. */
  async kill9(role: Role, index: number): Promise<boolean> {
    const slot = this.find(role, index);
    const child = slot.child;
    if (!child || !isAlive(child)) return false;
    slot.killing = true;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.kills[role]++;
    return true;
  }

  /** Starts the slot's process again if it is not running. */
  restart(role: Role, index: number): void {
    const slot = this.find(role, index);
    if (isAlive(slot.child)) return;
    this.launch(slot);
  }

  /** Makes sure every slot runs a process. */
  ensureAll(): void {
    for (const s of this.slots) if (!isAlive(s.child)) this.launch(s);
  }

  /** Restarts counted over all slots (launches beyond the first). */
  restarts(): number {
    return this.slots.reduce((n, s) => n + Math.max(0, s.starts - 1), 0);
  }

  /** Exits nobody asked for, per slot. */
  unexpectedExits(): { role: Role; index: number; code: number | null; signal: string | null }[] {
    return this.slots.flatMap((s) => s.unexpectedExits.map((e) => ({ role: s.role, index: s.index, ...e })));
  }

  /** SIGTERM everything (graceful close), SIGKILL what is still running after `graceMs`. */
  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        const child = s.child;
        if (!child || !isAlive(child)) return;
        s.killing = true;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private find(role: Role, index: number): Slot {
    const s = this.slots.find((x) => x.role === role && x.index === index);
    if (!s) throw new Error(`no ${role} replica ${index}`);
    return s;
  }
}

function isAlive(child: ChildProcess | undefined): child is ChildProcess {
  return !!child && child.exitCode === null && child.signalCode === null;
}
