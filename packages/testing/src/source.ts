import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

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
