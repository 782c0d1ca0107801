import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

/**
 * Starts a TypeScript file as a Node process of its own (`node --import tsx <file> <args…>`), as the
 * roles are deployed: one OS process, so a SIGKILL really kills what runs in it (no wrapper left
 * behind). The one place tests and the chaos harness start their TypeScript children through.
 */
export function spawnTs(file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...args], options);
}
