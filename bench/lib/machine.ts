import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** What the figures ran on. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  redis: string;
  os: string;
  /** 1-minute load average when the run started and ended (other work on the machine skews timings). */
  loadAvg: { start: number; end?: number };
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown';
}

export function loadAvg1(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return -1;
  }
}

export function machineInfo(redisVersion: string): MachineInfo {
  let os = `${process.platform} ${process.arch}`;
  try {
    os = readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // keep platform/arch
  }
  return {
    nproc: cpus().length,
    cpuModel: cpuModel(),
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    redis: redisVersion,
    os,
    loadAvg: { start: loadAvg1() },
  };
}

/** The code that was measured: HEAD, and package sources that differed from it (uncommitted work). */
export function codeVersion(): { commit: string; uncommitted: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { encoding: 'utf8' });
    const uncommitted = status
      .split('\n')
      .filter((l) => /^.M|^M|^\?\?/.test(l) && /\/src\//.test(l))
      .map((l) => l.slice(3));
    return { commit, uncommitted };
  } catch {
    return { commit: 'unknown', uncommitted: [] };
  }
}
