/**
 * Smoke test of the benchmark code: the quick harness at a tiny size must produce a number in every
 * section. It checks that the benchmarks still run, never how fast (timing targets are judged by
 * `pnpm bench` and written to BENCHMARKS.md, never asserted in tests).
 */
import { describe, expect, it } from 'vitest';
import { type BenchResults, defaultOptions, runBench } from './harness.js';
import { renderMarkdown } from './lib/report.js';
import type { Summary } from './lib/stats.js';

const N = 300;
/** A size without a stage section: its end-to-end baseline runs the whole raw pipeline. */
const E2E_N = 200;

function expectFigure(s: Summary) {
  expect(s.runs.length).toBeGreaterThan(0);
  for (const v of [s.median, s.min, s.max, ...s.runs]) expect(Number.isFinite(v)).toBe(true);
}

describe('when the benchmark harness runs in quick mode at a tiny size', () => {
  it('produces figures in every section', { timeout: 240_000 }, async () => {
    const opts = {
      ...defaultOptions(true),
      stageSizes: [N],
      e2eSizes: [E2E_N],
      runs: 1,
      costRequests: 100,
      consumerResults: 200,
      consumers: defaultOptions(true).consumers.slice(0, 1),
      metricsPairs: 1,
      log: () => {},
    };
    const r: BenchResults = await runBench(opts);

    expect(r.stages.map((s) => s.n)).toEqual([N]);
    for (const stage of [r.stages[0]!.producer, r.stages[0]!.batcher, r.stages[0]!.collector]) {
      for (const s of [stage.ms, stage.baselineMs, stage.ratio, stage.peakRssMB, stage.baselinePeakRssMB]) {
        expectFigure(s);
        expect(s.median).toBeGreaterThan(0);
      }
    }
    const e2e = r.e2e[0]!;
    expect(e2e.n).toBe(E2E_N);
    for (const s of [
      e2e.ms,
      e2e.baselineSumMs,
      e2e.ratio,
      ...Object.values(e2e.peakRssMB),
      ...Object.values(e2e.baselineMs),
    ]) {
      expectFigure(s);
      expect(s.median).toBeGreaterThan(0);
    }
    Object.values(e2e.phases).forEach(expectFigure);
    for (const bytes of Object.values(r.footprint)) expect(bytes).toBeGreaterThan(0);
    // The collector with and without metrics: a figure each, and the registry was scraped.
    for (const s of [r.metricsOverhead.offMs, r.metricsOverhead.onMs, r.metricsOverhead.ratio])
      expectFigure(s);
    expect(r.metricsOverhead.scrapeBytes).toBeGreaterThan(1000);
    expect(r.cost.rows).toHaveLength(4);
    for (const row of r.cost.rows) {
      expect(row.batchUsd).toBeGreaterThan(0);
      expect(row.realtimeUsd).toBeGreaterThan(row.batchUsd);
    }
    // The cost view's premise: with several cached prompts, grouping pays less than mixed packing.
    const grouped = r.cost.rows.find((c) => c.packing === 'grouped' && c.prompts > 1)!;
    const mixed = r.cost.rows.find((c) => c.packing === 'mixed')!;
    expect(grouped.tokens.cacheRead).toBeGreaterThan(mixed.tokens.cacheRead);
    expect(r.consumer.figures).toHaveLength(4);
    for (const c of r.consumer.figures) [c.ms, c.vsUnbounded, c.cpuUsPerResult].forEach(expectFigure);
    expect(r.targets.length).toBeGreaterThanOrEqual(4);
    expect(renderMarkdown(r)).toContain('| producer');
    expect(renderMarkdown(r)).toContain('| instant handler, concurrency 1 | 10 |');
  });
});
