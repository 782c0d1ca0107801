import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sourceNodeArgs } from '@nightshift/testing';

const STAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'stages');
const ROOT = join(STAGES_DIR, '..', '..');
/** Lines of a child's output kept to explain a failure. */
const TAIL = 40;

/** A protocol message of a stage child: one JSON line whose `bench` field says what it is. */
export type StageMessage = { bench: 'ready' | 'result' } & Record<string, unknown>;

/** A running stage child (`bench/stages/<stage>.ts '<json args>'` from source: sourceNodeArgs). */
export interface StageChild {
  readonly stage: string;
  /** Resolves with the child's first `ready` message (long-running children send one). */
  ready(): Promise<StageMessage>;
  /** Resolves with the child's `result` message once the child has exited with code 0. */
  result(): Promise<StageMessage>;
  /** Resolves with the `result` message as soon as it is printed (before the child has exited). */
  resultLine(): Promise<StageMessage>;
  /** Sends SIGTERM (a long-running child then reports and exits); resolves when it has exited. */
  stop(): Promise<void>;
}

/**
 * Spawns one stage in its own process, so its peak RSS belongs to that stage alone. Stdout carries
 * the protocol lines (anything else, e.g. warn-level logs, is kept only to explain a failure);
 * stderr is kept likewise, and echoed when BENCH_VERBOSE is set. A child that outlives `timeoutMs`
 * is killed and its result rejected.
 */
export function spawnStage(stage: string, args: object, timeoutMs = 10 * 60_000): StageChild {
  // BENCH_PROF=batcher,collector writes V8 CPU profiles of those stages to bench/out/prof/<stage>/
  // (one file per thread: the main thread's is the large one).
  const prof = (process.env.BENCH_PROF ?? '').split(',').includes(stage)
    ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench', 'out', 'prof', stage)}`]
    : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...prof, ...sourceNodeArgs(join(STAGES_DIR, `${stage}.ts`), JSON.stringify(args))],
    {
      cwd: ROOT,
      env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: process.env.NIGHTSHIFT_LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL) tail.shift();
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${stage}] ${line}\n`);
  };
  let onReady: (m: StageMessage) => void = () => {};
  const readyP = new Promise<StageMessage>((resolve) => {
    onReady = resolve;
  });
  let resultMsg: StageMessage | undefined;
  let onResult: (m: StageMessage) => void = () => {};
  const resultLineP = new Promise<StageMessage>((resolve) => {
    onResult = resolve;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{"bench":')) return keep(line);
    const msg = JSON.parse(line) as StageMessage;
    if (msg.bench === 'ready') onReady(msg);
    else {
      resultMsg = msg;
      onResult(msg);
    }
  });
  createInterface({ input: child.stderr! }).on('line', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  const resultP = exited.then(({ code, signal }) => {
    if (code === 0 && resultMsg) return resultMsg;
    const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    throw new Error(`bench stage ${stage} ${why} without a result. Last output:\n${tail.join('\n')}`);
  });
  resultP.catch(() => undefined); // reported through result() / ready()
  return {
    stage,
    ready: () =>
      Promise.race([readyP, resultP.then(() => Promise.reject(new Error(`${stage} exited before ready`)))]),
    result: () => resultP,
    resultLine: () => Promise.race([resultLineP, resultP]),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs a stage child to completion and returns its result message. */
export function runStage(stage: string, args: object, timeoutMs?: number): Promise<StageMessage> {
  return spawnStage(stage, args, timeoutMs).result();
}
