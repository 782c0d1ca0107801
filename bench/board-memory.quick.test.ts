/**
 * The board-memory benchmark (`pnpm bench:board`) at a tiny size, so its code cannot rot: every
 * phase produces figures and every view answers. It asserts no timing and no memory figure (those
 * are judged by the full run and written to BENCHMARKS.md).
 */
import { describe, expect, it } from 'vitest';
import { type PhaseFigures, renderBoardBench, runBoardBench } from './board-memory.js';

function expectFigures(p: PhaseFigures, requests: number) {
  expect(p.boardDied).toBeUndefined();
  expect(p.requests).toBe(requests);
  expect(p.failed).toBe(0);
  for (const v of [
    p.wallMs,
    p.latencyMs.median,
    p.latencyMs.max,
    p.rssMB.before,
    p.rssMB.peak,
    p.rssMB.after,
  ]) {
    expect(Number.isFinite(v)).toBe(true);
  }
  expect(p.rssMB.peak).toBeGreaterThan(0);
}

describe('the board-memory benchmark at a tiny size', () => {
  it('seeds large dead letters, runs both phases and reports figures', { timeout: 180_000 }, async () => {
    const r = await runBoardBench({ dead: 3, mb: 0.25, viewers: 2, refreshes: 2, log: () => {} });
    expectFigures(r.overview, 4);
    expectFigures(r.bullBoard, 4);
    // Bull Board's answer lists every dead letter, without their 256 KB of params.
    expect(r.bullBoard.jobsPerAnswer).toBe(3);
    expect(r.bullBoard.largestAnswerBytes).toBeLessThan(3 * 256 * 1024);
    expect(renderBoardBench(r, 'quick').split('\n')).toHaveLength(2);
  });
});
