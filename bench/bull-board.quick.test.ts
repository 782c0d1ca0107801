/**
 * The Bull Board page-view benchmark (`pnpm bench:bullboard`) at a tiny size, so its code cannot
 * rot: every view answers with a page of jobs and the counts match what was seeded. It asserts no
 * timing (the full run's figures are in BENCHMARKS.md).
 */
import { describe, expect, it } from 'vitest';
import { renderBullBoardBench, runBullBoardBench } from './bull-board.js';

describe('the Bull Board page-view benchmark at a tiny size', () => {
  it('seeds a backlog, answers every view and reports figures', { timeout: 120_000 }, async () => {
    const r = await runBullBoardBench({ queued: 6000, baseline: 300, views: 2, log: () => {} });
    expect(r.large.counts).toMatchObject({ waiting: 5940, delayed: 60, active: 0 });
    expect(r.large.views['waiting, page 1'].jobs).toBe(50);
    expect(r.large.views['waiting, page 100'].jobs).toBe(50);
    expect(r.large.views['delayed, page 1'].jobs).toBe(50);
    for (const v of Object.values(r.large.views)) expect(Number.isFinite(v.medianMs)).toBe(true);
    expect(renderBullBoardBench(r).split('\n')).toHaveLength(4);
  });
});
