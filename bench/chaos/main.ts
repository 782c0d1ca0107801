/**
 * `pnpm chaos`: the long reliability run. Every scenario of `LONG` (or `--only a,b`, or `--quick`)
 * against real batcher and collector processes, Redis and the emulator; the invariants are checked
 * after each run; the figures go to RELIABILITY.md (unless `--no-write`) and the full reports to
 * bench/out/chaos/last-run.json (`--render <that file>` writes the figures again from it). Exit code
 * 1 if any invariant broke.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderFigures, writeFigures } from './report.js';
import { type RunReport, runScenario } from './scenario.js';
import { LONG, QUICK } from './scenarios.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      'no-write': { type: 'boolean' },
      render: { type: 'string' },
    },
  });
  if (values.render) return rerender(values.render);
  const wanted = values.only?.split(',');
  const scenarios = values.quick ? [QUICK] : LONG.filter((s) => !wanted || wanted.includes(s.name));
  if (scenarios.length === 0) {
    process.stderr.write(
      `no scenario matches --only ${values.only}; known: ${LONG.map((s) => s.name).join(', ')}\n`,
    );
    return 2;
  }
  const startedAt = new Date();
  const reports: RunReport[] = [];
  const failures: string[] = [];
  for (const s of scenarios) {
    const log = (m: string) =>
      process.stdout.write(`${new Date().toISOString().slice(11, 19)} [${s.name}] ${m}\n`);
    let r: RunReport;
    try {
      r = await runScenario(s, log);
    } catch (err) {
      // A harness failure (not a broken invariant): reported, and the next scenario still runs.
      log(`HARNESS FAILURE: ${(err as Error).stack ?? err}`);
      failures.push(`${s.name}: ${(err as Error).message}`);
      continue;
    }
    reports.push(r);
    const c = r.check.figures;
    log(
      `${r.check.ok ? 'OK' : 'BROKEN'}: ${c.succeeded} succeeded, ${c.dead} dead, lost ${c.lost}, stuck ${c.stuck}, ` +
        `twice ${c.deliveries.duplicate}, kills ${r.kills.batcher}+${r.kills.collector}+${r.kills.results ?? 0}, ${Math.round(r.durationMs / 1000)} s`,
    );
    for (const v of r.check.violations) log(`  ✗ ${v.invariant}: ${v.count} (${v.sample.join(', ')})`);
  }
  let figures = renderFigures(reports, { startedAt, durationMs: Date.now() - startedAt.getTime() });
  if (failures.length)
    figures += `\n\n**Runs that did not complete:**\n\n${failures.map((f) => `- ${f}`).join('\n')}`;
  mkdirSync(`${ROOT}bench/out/chaos`, { recursive: true });
  const meta = { startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime() };
  writeFileSync(`${ROOT}bench/out/chaos/last-run.json`, JSON.stringify({ ...meta, reports }, null, 2));
  if (!values['no-write'] && !values.quick && !wanted) writeFigures(`${ROOT}RELIABILITY.md`, figures);
  process.stdout.write(`\n${figures}\n`);
  return failures.length === 0 && reports.every((r) => r.check.ok) ? 0 : 1;
}

/** `--render <last-run.json>`: writes RELIABILITY.md's figures again from a saved run (no new run). */
function rerender(file: string): number {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as {
    startedAt: string;
    durationMs: number;
    reports: RunReport[];
  };
  const figures = renderFigures(saved.reports, {
    startedAt: new Date(saved.startedAt),
    durationMs: saved.durationMs,
  });
  writeFigures(`${ROOT}RELIABILITY.md`, figures);
  process.stdout.write(`${figures}\n`);
  return 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
