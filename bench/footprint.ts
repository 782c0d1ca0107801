/**
 * `pnpm bench:footprint [--n 100000] [--out DIR] [--no-doc]`
 *
 * Redis bytes per request through a request's life at one size, alone (the same first stage run
 * `pnpm bench` takes its footprint from: producer → batcher → collector → a result worker
 * delivering every result, INFO used_memory between the steps, MEMORY USAGE of sampled records).
 * Without `--out`/`--no-doc` it refreshes BENCHMARKS.md between its `bench:footprint` markers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { replaceSection } from './lib/doc.js';
import { BenchEnv } from './lib/env.js';
import { codeVersion, machineInfo } from './lib/machine.js';
import { benchStages } from './sections/stages.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const DOC = join(BENCH_DIR, '..', 'BENCHMARKS.md');

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    out: { type: 'string' },
    'no-doc': { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
if (!Number.isInteger(n) || n < 1) {
  console.error('--n takes a positive integer');
  process.exit(2);
}

const env = await BenchEnv.start();
const started = Date.now();
try {
  const machine = machineInfo(await env.redisVersion());
  const code = codeVersion();
  const { footprint: f } = await benchStages(env, n, 1, (line) => process.stderr.write(`${line}\n`));
  const fmt = (v: number) => v.toLocaleString('en-US');
  const md = [
    `_Run of ${new Date(started).toISOString()} (\`pnpm bench:footprint --n ${n}\`): ${machine.nproc} × ` +
      `${machine.cpuModel}, Redis ${machine.redis}. Code: ${code.commit}` +
      (code.uncommitted.length ? ' plus uncommitted changes' : '') +
      '. Bytes per request are INFO used_memory deltas from an empty Redis, divided by n._',
    '',
    '| n | queued | in flight | collected (results waiting for a consumer) | final after delivery | a delivered record (MEMORY USAGE) |',
    '| --- | --- | --- | --- | --- | --- |',
    `| ${fmt(n)} | ${fmt(f.queuedBytesPerRequest)} | ${fmt(f.inflightBytesPerRequest)} | ` +
      `${fmt(f.collectedBytesPerRequest)} | ${fmt(f.deliveredBytesPerRequest)} | ${fmt(f.deliveredRecordBytes)} |`,
  ].join('\n');
  const outDir = values.out ?? join(BENCH_DIR, 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'footprint.json'),
    `${JSON.stringify({ n, footprint: f, machine, code }, null, 2)}\n`,
  );
  if (values.out === undefined && !values['no-doc']) replaceSection(DOC, 'bench:footprint', md);
  process.stdout.write(`${md}\n`);
} finally {
  await env.close();
}
