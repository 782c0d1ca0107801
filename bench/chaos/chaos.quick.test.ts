import { describe, expect, it } from 'vitest';
import { type RunReport, runScenario } from './scenario.js';
import { QUICK } from './scenarios.js';

/**
 * The CI version of `pnpm chaos`: 1,500 requests through 3 batchers, 3 collectors and 2 result
 * workers (real child processes) while they are killed -9, Redis is killed -9 once (appendfsync
 * always) and the emulator answers one of each API fault. Start-up of eight tsx processes dominates
 * on 2 cores.
 */
describe('chaos (quick): kill -9, a Redis crash and API faults against 3+3+2 replicas', () => {
  let report: RunReport;

  it(
    'every acknowledged request ends in exactly one final outcome, and nothing is lost',
    async () => {
      report = await runScenario(QUICK, (m) => {
        if (process.env.CHAOS_VERBOSE) process.stdout.write(`[chaos] ${m}\n`);
      });
      const c = report.check.figures;
      expect(report.check.violations).toEqual([]);
      expect(c.lost).toBe(0);
      expect(c.stuck).toBe(0);
      expect(c.succeeded + c.dead).toBe(QUICK.requests);
      expect(c.deliveries.duplicate).toBe(0);
      expect(c.ledger.results).toBe(c.succeeded);
      expect(c.ledger.costNano).toBe(c.ledger.resultJobsCostNano);
      expect(c.batches.unknown + c.batches.uncollected).toBe(0);
      expect(c.overPolicy).toBe(0);
      expect(report.unexpectedExits).toBe(0);
    },
    15 * 60_000,
  );

  it('the faults did happen', () => {
    expect(report).toBeDefined();
    expect(report.kills.batcher).toBeGreaterThan(0);
    expect(report.kills.collector).toBeGreaterThan(0);
    expect(report.kills.results).toBeGreaterThan(0);
    expect(report.redisFaults.map((f) => f.kind)).toEqual(['crash']);
    expect(report.apiFaultsFired).toBeGreaterThan(5);
    expect(report.notTriggered).toEqual([]);
  });
});
