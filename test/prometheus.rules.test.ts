/**
 * The shipped alert rules (deploy/prometheus/alerts.yml) as Prometheus itself reads them: Debian's
 * `promtool` checks the rules and the example config, and runs the unit tests of
 * deploy/prometheus/alerts.test.yml on synthetic series. This file also checks that every alert
 * has a unit test that sees it fire and one that sees it quiet, and a runbook section in
 * docs/operations.md that its runbook_url points to.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const DIR = fileURLToPath(new URL('../deploy/prometheus/', import.meta.url));
const OPERATIONS = fileURLToPath(new URL('../docs/operations.md', import.meta.url));
const execFileP = promisify(execFile);

async function promtool(...args: string[]) {
  try {
    const { stdout, stderr } = await execFileP('promtool', args, { cwd: DIR, timeout: 60_000 });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { message: string; stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const rules = readFileSync(`${DIR}alerts.yml`, 'utf8');
const tests = readFileSync(`${DIR}alerts.test.yml`, 'utf8');
const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]!);

describe('deploy/prometheus', () => {
  it('passes promtool check rules, and the example config passes check config', async () => {
    expect(await promtool('check', 'rules', 'alerts.yml')).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(await promtool('check', 'config', 'prometheus.yml')).toContain('valid prometheus config');
  });

  it('passes its promtool unit tests', async () => {
    expect(await promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it('tests every alert firing and quiet', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    // Each `alertname:` line is followed by its `exp_alerts`: `[]` (quiet) or a list (firing).
    const checks = [...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:( \[\])?/g)].map((m) => ({
      alert: m[1]!,
      quiet: m[2] !== undefined,
    }));
    for (const alert of alerts) {
      expect(
        checks.some((c) => c.alert === alert && !c.quiet),
        `${alert} fires in a test`,
      ).toBe(true);
      expect(
        checks.some((c) => c.alert === alert && c.quiet),
        `${alert} is quiet in a test`,
      ).toBe(true);
    }
  });

  it('gives every alert a runbook section in docs/operations.md', () => {
    const headings = new Set(
      [...readFileSync(OPERATIONS, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    const urls = [...rules.matchAll(/runbook_url: (\S+)/g)].map((m) => m[1]!);
    expect(urls).toHaveLength(alerts.length);
    for (const [i, alert] of alerts.entries()) {
      const anchor = urls[i]!.split('#')[1] ?? '';
      expect(urls[i]).toMatch(/\/docs\/operations\.md#/);
      expect(anchor).toBe(alert.toLowerCase());
      expect(headings.has(anchor), `docs/operations.md has a "${alert}" section`).toBe(true);
    }
  });
});
