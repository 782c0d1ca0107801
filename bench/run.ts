/**
 * `pnpm bench [--quick] [--sizes 1000,10000] [--runs N] [--out DIR] [--no-doc]`
 * (`--sizes` sets both the stage and the end-to-end sizes)
 *
 * A full run writes bench/results.json and bench/results.md and refreshes the figures in
 * BENCHMARKS.md (between its `bench:results` markers). A quick run writes to bench/out/ and leaves
 * the committed figures alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultOptions, runBench } from './harness.js';
import { replaceSection } from './lib/doc.js';
import { renderMarkdown } from './lib/report.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const DOC = join(BENCH_DIR, '..', 'BENCHMARKS.md');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    runs: { type: 'string' },
    out: { type: 'string' },
    'no-doc': { type: 'boolean', default: false },
  },
});

const opts = defaultOptions(values.quick === true);
if (values.sizes) {
  const sizes = values.sizes
    .split(',')
    .map(Number)
    .sort((a, b) => a - b);
  opts.stageSizes = sizes;
  opts.e2eSizes = sizes;
}
if (values.runs) opts.runs = Number(values.runs);
if (opts.stageSizes.some((n) => !Number.isInteger(n) || n < 1) || !(opts.runs >= 1)) {
  console.error('--sizes takes positive integers (comma-separated), --runs a positive integer');
  process.exit(2);
}

const results = await runBench(opts);
const md = renderMarkdown(results);
const custom = values.sizes !== undefined || values.runs !== undefined;
const official = !opts.quick && !custom && values.out === undefined;
const outDir = values.out ?? (official ? BENCH_DIR : join(BENCH_DIR, 'out'));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, 'results.md'), md);
if (official && !values['no-doc']) {
  replaceSection(DOC, 'bench:results', md);
}
process.stdout.write(
  `${md}\nWritten to ${outDir}${official && !values['no-doc'] ? ' and BENCHMARKS.md' : ''}.\n`,
);
