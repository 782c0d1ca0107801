import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, renderConfigTable, SETTINGS } from '../src/index.js';

describe('loadConfig', () => {
  it('gives documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.prefix).toBe('nightshift');
    expect(c.env.NIGHTSHIFT_MAX_REQUESTS).toBe(100_000);
    expect(c.env.NIGHTSHIFT_BOARD_HOST).toBe('127.0.0.1');
    expect(c.env.NIGHTSHIFT_DELETE_AFTER_COLLECT).toBe(false);
    expect(c.env.NIGHTSHIFT_RESULTS_PER_JOB).toBe(100);
    expect(c.env.NIGHTSHIFT_HEAP_GROWING_PERCENT).toBe(100);
  });

  it("bounds the collector's job packing and the heap setting", () => {
    expect(loadConfig({ NIGHTSHIFT_HEAP_GROWING_PERCENT: '0' }).env.NIGHTSHIFT_HEAP_GROWING_PERCENT).toBe(0);
    expect(() => loadConfig({ NIGHTSHIFT_HEAP_GROWING_PERCENT: '-1' })).toThrow(
      /NIGHTSHIFT_HEAP_GROWING_PERCENT/,
    );
    expect(() => loadConfig({ NIGHTSHIFT_RESULTS_PER_JOB: '1001' })).toThrow(/NIGHTSHIFT_RESULTS_PER_JOB/);
    expect(() => loadConfig({ NIGHTSHIFT_RESULTS_PER_JOB: '0' })).toThrow(/NIGHTSHIFT_RESULTS_PER_JOB/);
  });

  it('caps the billing circuit between the cooldown and a maximum, and refuses a maximum below it', () => {
    expect(loadConfig({}).env.NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS).toBe(86_400_000);
    expect(() =>
      loadConfig({ NIGHTSHIFT_CIRCUIT_COOLDOWN_MS: '600000', NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS: '60000' }),
    ).toThrow(/NIGHTSHIFT_CIRCUIT_MAX_COOLDOWN_MS: must be at least NIGHTSHIFT_CIRCUIT_COOLDOWN_MS/);
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ NIGHTSHIFT_TICK_MS: 'soon', NIGHTSHIFT_MAX_REQUESTS: '200000', NIGHTSHIFT_TYPO: '1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('NIGHTSHIFT_TICK_MS');
    expect(msg).toContain('NIGHTSHIFT_MAX_REQUESTS');
    expect(msg).toContain('NIGHTSHIFT_TYPO: unknown setting');
  });

  it('requires a password with a board user, and never echoes secrets it was not asked about', () => {
    expect(() => loadConfig({ NIGHTSHIFT_BOARD_USER: 'ops' })).toThrow(/NIGHTSHIFT_BOARD_PASSWORD/);
    expect(() => loadConfig({ ANTHROPIC_API_KEY: 'sk-secret', NIGHTSHIFT_TICK_MS: '0' })).not.toThrow(
      /sk-secret/,
    );
  });

  it('reads the board host list and Redis details switch, refusing names with a port or scheme', () => {
    expect(loadConfig({}).env.NIGHTSHIFT_BOARD_ALLOWED_HOSTS).toBeUndefined();
    expect(loadConfig({}).env.NIGHTSHIFT_BOARD_REDIS_DETAILS).toBe(false);
    expect(
      loadConfig({ NIGHTSHIFT_BOARD_ALLOWED_HOSTS: ' Board.Internal, .ops.example.com,10.0.0.7,[::1] ' }).env
        .NIGHTSHIFT_BOARD_ALLOWED_HOSTS,
    ).toEqual(['board.internal', '.ops.example.com', '10.0.0.7', '[::1]']);
    for (const bad of ['board:3000', 'http://board', '*', 'a b', 'evil.example/x']) {
      expect(() => loadConfig({ NIGHTSHIFT_BOARD_ALLOWED_HOSTS: bad }), bad).toThrow(
        /NIGHTSHIFT_BOARD_ALLOWED_HOSTS.*without port or scheme/,
      );
    }
  });

  it('takes Sentinels or a Cluster, not both, and a master name Sentinel could have', () => {
    const env = loadConfig({ NIGHTSHIFT_REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379' }).env;
    expect(env.NIGHTSHIFT_REDIS_SENTINEL_MASTER).toBe('mymaster');
    expect(() =>
      loadConfig({ NIGHTSHIFT_REDIS_SENTINELS: 'a:26379', NIGHTSHIFT_REDIS_CLUSTER_NODES: 'b:7000' }),
    ).toThrow(/NIGHTSHIFT_REDIS_SENTINELS: set it or NIGHTSHIFT_REDIS_CLUSTER_NODES, not both/);
    expect(() => loadConfig({ NIGHTSHIFT_REDIS_SENTINEL_MASTER: 'my master' })).toThrow(
      /NIGHTSHIFT_REDIS_SENTINEL_MASTER/,
    );
  });

  it('merges a pricing file and rejects a malformed one', () => {
    const dir = `${process.env.TMPDIR ?? '/tmp'}/ns-pricing-${process.pid}.json`;
    writeFileSync(
      dir,
      JSON.stringify({ 'my-model': { input: 1, cacheWrite5m: 1, cacheWrite1h: 1, cacheRead: 1, output: 1 } }),
    );
    expect(loadConfig({ NIGHTSHIFT_PRICING_FILE: dir }).prices['my-model']?.output).toBe(1);
    writeFileSync(dir, JSON.stringify({ 'my-model': { input: -1 } }));
    expect(() => loadConfig({ NIGHTSHIFT_PRICING_FILE: dir })).toThrow(/my-model.input/);
  });

  it('reads a budgets file once and rejects a malformed one, naming the field', () => {
    const file = `${process.env.TMPDIR ?? '/tmp'}/ns-budgets-${process.pid}.json`;
    writeFileSync(file, JSON.stringify({ budgets: [{ name: 'docs', period: 'month', limitUsd: 10 }] }));
    expect(loadConfig({ NIGHTSHIFT_BUDGETS_FILE: file }).budgets).toEqual([
      { name: 'docs', period: 'month', limitUsd: 10, mode: 'hold', alertAt: 0.8 },
    ]);
    expect(loadConfig({}).budgets).toBeUndefined();
    writeFileSync(
      file,
      JSON.stringify({ budgets: [{ name: 'docs', period: 'month', limitUsd: 10, mode: 'stop' }] }),
    );
    expect(() => loadConfig({ NIGHTSHIFT_BUDGETS_FILE: file })).toThrow(
      /NIGHTSHIFT_BUDGETS_FILE: budgets\.0\.mode/,
    );
  });
});

describe('README configuration table', () => {
  it('lists every variable exactly as SETTINGS defines it (run `pnpm gen:readme` to regenerate)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(renderConfigTable());
    for (const name of Object.keys(SETTINGS)) expect(readme).toContain(`\`${name}\``);
  });
});
