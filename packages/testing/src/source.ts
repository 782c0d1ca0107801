import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The export condition under which every `@nightshift/*` package resolves to its TypeScript source
 * (`src/index.ts`) instead of its build (`dist/`): tests, benchmarks and `pnpm start` run the
 * workspace from source, with no build step.
 */
export const SOURCE_CONDITION = '@nightshift/source';

/**
 * Node arguments that run one of this repository's TypeScript entry points from source, as a child
 * process: `spawn(process.execPath, sourceNodeArgs(entry, ...args))`. tsx compiles the entry, and
 * the source condition makes its `@nightshift/*` imports load their src/ (run with a cwd inside the
 * repository, so `tsx` resolves).
 */
export function sourceNodeArgs(entry: string, ...args: string[]): string[] {
  return [`--conditions=${SOURCE_CONDITION}`, '--import', 'tsx', entry, ...args];
}

/**
 * Starts a TypeScript file of this repository as a Node process of its own, from source (the
 * arguments of `sourceNodeArgs`), as the roles are deployed: one OS process, so a SIGKILL really
 * kills what runs in it (no wrapper left behind).
 */
export function spawnTs(file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, sourceNodeArgs(file, ...args), options);
}

/**
 * Keeps what `child` writes on its piped stdout and stderr (whichever are pipes), as one text in
 * the order it came: to wait for a line and to explain a failure.
 */
export function keepOutput(child: ChildProcess): () => string {
  let out = '';
  const keep = (d: Buffer | string) => {
    out += d;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/** The repository's root: the working directory of the processes started from source. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A child process whose output is kept (to assert on it and to explain failures). */
export interface SourceChild {
  name: string;
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  /** SIGTERM, then the exit code (null when killed by a signal). */
  stop(): Promise<number | null>;
  /** Resolves with the exit code once the process has ended on its own. */
  exited(): Promise<number | null>;
}

/**
 * Starts a TypeScript entry point of this repository (a bin) from source with `env` on top of PATH
 * only: the test's own environment (and whatever NIGHTSHIFT_* or REDIS_URL it has) stays out, so
 * the child sees exactly its configuration. Its stdout and stderr are kept.
 */
export function runSourceBin(
  entry: string,
  env: Record<string, string>,
  opts: { args?: string[]; name?: string } = {},
): SourceChild {
  const child = spawnTs(entry, opts.args ?? [], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr!.on('data', (d) => {
    out.stderr += d;
  });
  const exit = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  return {
    name: opts.name ?? entry,
    child,
    out,
    exited: () => exit,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exit;
    },
  };
}
