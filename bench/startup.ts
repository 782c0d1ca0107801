/**
 * `pnpm bench:startup [--runs N] [--quick]`: how long each role takes from `spawn` to ready, and its
 * RSS at that moment (before any work), run from source under tsx (as `pnpm start`, the tests and the
 * benchmarks run it) and from the built JavaScript under plain node (as a deployment runs it), in the
 * same run, interleaved. Ready: the batcher's and collector's first heartbeat in Redis, the board's
 * and emulator's "listening on" line. One discarded warm-up per role and mode first (tsx's compile
 * cache and the OS file cache warm), so the figures are warm starts.
 *
 * A full run (5 runs) replaces the figures in BENCHMARKS.md between the `bench:startup` markers;
 * `--quick` (2 runs) or `--runs N` writes bench/out/startup.md only.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startEmulator } from '@nightshift/emulator';
import { storeKeys } from '@nightshift/store/testing';
import { sourceNodeArgs, startRedisServer } from '@nightshift/testing';
import { Redis } from 'ioredis';
import { replaceSection } from './lib/doc.js';
import { codeVersion, loadAvg1, machineInfo } from './lib/machine.js';
import { type Summary, summarize } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOC = join(ROOT, 'BENCHMARKS.md');

type Role = 'batcher' | 'collector' | 'board' | 'emulator';
type Mode = 'tsx' | 'node';
const ROLES: Role[] = ['batcher', 'collector', 'board', 'emulator'];
const ENTRY: Record<Role, { source: string; built: string }> = {
  batcher: { source: 'packages/batcher/src/bin.ts', built: 'packages/batcher/dist/bin.js' },
  collector: { source: 'packages/collector/src/bin.ts', built: 'packages/collector/dist/bin.js' },
  board: { source: 'packages/board/src/bin.ts', built: 'packages/board/dist/bin.js' },
  emulator: { source: 'packages/emulator/src/cli.ts', built: 'packages/emulator/dist/cli.js' },
};

const { values } = parseArgs({
  options: { runs: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const runs = values.runs ? Number(values.runs) : values.quick ? 2 : 5;
if (!Number.isInteger(runs) || runs < 1) {
  console.error('--runs takes a positive integer');
  process.exit(2);
}
const official = !values.quick && values.runs === undefined;

/** VmRSS of a live process, in MB (Linux). */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

console.log('building (tsc -b) …');
execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b', 'tsconfig.build.json'], {
  cwd: ROOT,
  stdio: 'inherit',
});

const redisServer = await startRedisServer();
const emulator = await startEmulator({ recordRequests: false });
const redis = new Redis(redisServer.url);
const prefix = 'bench-startup';
const heartbeats = storeKeys(prefix).heartbeats;
const env = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  REDIS_URL: redisServer.url,
  NIGHTSHIFT_PREFIX: prefix,
  NIGHTSHIFT_LOG_LEVEL: 'warn',
  NIGHTSHIFT_BOARD_PORT: '0',
  ANTHROPIC_API_KEY: 'bench-key',
  ANTHROPIC_BASE_URL: emulator.url,
};

/** Starts one role, waits until it is ready; returns the time that took and the RSS then. */
async function measure(role: Role, mode: Mode): Promise<{ ms: number; rssMb: number }> {
  const entry = join(ROOT, mode === 'tsx' ? ENTRY[role].source : ENTRY[role].built);
  const args = mode === 'tsx' ? sourceNodeArgs(entry) : [entry];
  if (role === 'emulator') args.push('--port', '0');
  await redis.del(heartbeats);
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  const pid = child.pid!;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${role} (${mode}) exited with ${child.exitCode}: ${out}`);
      const ready =
        role === 'board' || role === 'emulator'
          ? out.includes('listening on')
          : Object.values(await redis.hgetall(heartbeats)).some((hb) => JSON.parse(hb).pid === pid);
      if (ready) return { ms: performance.now() - t0, rssMb: rssMb(pid) };
      if (performance.now() - t0 > 60_000) throw new Error(`${role} (${mode}) not ready within 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await stop(child);
  }
}

const info = machineInfo(((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1] ?? '?');
const began = Date.now();
type Figures = Record<Mode, { ms: number[]; rssMb: number[] }>;
const figures = Object.fromEntries(
  ROLES.map((r) => [r, { tsx: { ms: [], rssMb: [] }, node: { ms: [], rssMb: [] } }]),
) as unknown as Record<Role, Figures>;
for (const role of ROLES) for (const mode of ['tsx', 'node'] as const) await measure(role, mode); // warm-up
for (let i = 0; i < runs; i++) {
  for (const role of ROLES) {
    for (const mode of ['tsx', 'node'] as const) {
      const m = await measure(role, mode);
      figures[role][mode].ms.push(m.ms);
      figures[role][mode].rssMb.push(m.rssMb);
    }
  }
  console.log(`run ${i + 1}/${runs} done`);
}
info.loadAvg.end = loadAvg1();
await redis.quit();
await emulator.close();
await redisServer.stop();

const fmt = (s: Summary, digits: number) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const ratio = (a: number[], b: number[]) => summarize(a.map((v, i) => v / b[i]!));
const code = codeVersion();
const rows = ROLES.map((role) => {
  const { tsx, node } = figures[role];
  return (
    `| ${role} | ${fmt(summarize(tsx.ms), 0)} | ${fmt(summarize(node.ms), 0)} | ` +
    `${fmt(ratio(node.ms, tsx.ms), 2)} | ${fmt(summarize(tsx.rssMb), 0)} | ${fmt(summarize(node.rssMb), 0)} | ` +
    `${fmt(ratio(node.rssMb, tsx.rssMb), 2)} |`
  );
});
const md = [
  `_${official ? 'full' : 'quick'} run of ${new Date(began).toISOString()} (\`pnpm bench:startup${official ? '' : ' …'}\`, ` +
    `${Math.round((Date.now() - began) / 1000)} s, ${runs} run(s) after one warm-up): ${info.nproc} × ${info.cpuModel}, ` +
    `Node ${info.node}; load average ${info.loadAvg.start} at start, ${info.loadAvg.end} at end. ` +
    `Code: ${code.commit}${code.uncommitted.length ? ' + uncommitted changes' : ''}. Median (min–max)._`,
  '',
  '| role | start-up, tsx (ms) | start-up, node dist (ms) | node / tsx | RSS at ready, tsx (MB) | RSS at ready, node dist (MB) | node / tsx |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
].join('\n');

const outDir = join(ROOT, 'bench', 'out');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'startup.md'), `${md}\n`);
writeFileSync(join(outDir, 'startup.json'), `${JSON.stringify({ info, runs, figures }, null, 2)}\n`);
if (official) {
  replaceSection(DOC, 'bench:startup', md);
}
console.log(`${md}\n\nWritten to bench/out/startup.md${official ? ' and BENCHMARKS.md' : ''}.`);
