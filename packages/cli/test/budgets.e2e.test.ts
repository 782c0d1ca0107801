import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '@nightshift/emulator';
import { createProducer } from '@nightshift/producer';
import { createRedis, Store } from '@nightshift/store';
import { silentLogger, useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { demoRequests } from '../src/demo/workload.js';
import { runCliCaptured } from './helpers.js';
import { type Child, e2eEnv, killAll, runBin } from './scale-helpers.js';

// Budgets end to end (ARCHITECTURE.md "Budgets"): two batcher and two collector processes from the
// bins, a hold budget from NIGHTSHIFT_BUDGETS_FILE on the demo workload, a kill -9 of one batcher
// and one collector mid-run. Sampled all along, reserved + spent never passes the limit; once the
// survivors are idle nothing is left reserved (the killed processes' reservations were released
// or settled), spent is the ledger's cost, and what the budget held is still queued until
// `nightshift budget set` raises it, after which every request is delivered.

const fx = useRedis((url) => createRedis({ url }, 'worker'));
const N = 120;

describe('a hold budget across two batchers and two collectors, one of each killed with SIGKILL', () => {
  it('is never exceeded by spent + reserved, leaks no reservation, and lets the rest go once raised', async () => {
    const prefix = 'budgets-e2e';
    // Each batch takes 300 ms of processing, so batches are in flight when the kills come.
    const emu = await startEmulator({ quiet: true, processing: { delayMs: 300 }, minCacheableTokens: 1024 });
    const store = new Store(fx.redis, prefix);
    const producer = createProducer({ connection: fx.redis, prefix, logger: silentLogger });
    const requests = demoRequests(N);
    await producer.enqueueMany(requests);
    const ids = requests.map((r) => producer.customIdFor(r.feature, r.key!));
    const ests = (await store.records.peek(ids, ['estimate'])).map((r) => Number(r!.estimate) / 1e9);
    // Room for three estimates at a time. Estimates are upper bounds far above the real cost of
    // this cache-heavy workload, so the budget refills as results settle, until what is spent
    // leaves less than one estimate: the rest is held.
    const limitUsd = Number((3 * Math.max(...ests)).toFixed(6));
    const file = join(tmpdir(), `ns-budgets-e2e-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify({ budgets: [{ name: 'demo', period: 'day', limitUsd, feature: 'demo-classify' }] }),
    );
    const env = {
      REDIS_URL: fx.url,
      ...e2eEnv(emu, prefix),
      NIGHTSHIFT_BUDGETS_FILE: file,
      NIGHTSHIFT_MAX_REQUESTS: '8',
      NIGHTSHIFT_FLUSH_LOCK_MS: '1000',
      NIGHTSHIFT_CREATE_TIMEOUT_MS: '1000',
      NIGHTSHIFT_SUBMISSION_LEASE_MS: '1500',
      NIGHTSHIFT_COLLECTOR_LOCK_MS: '2000',
    };
    const children: Child[] = [
      runBin('batcher', env),
      runBin('batcher', env),
      runBin('collector', env),
      runBin('collector', env),
    ];
    const [doomedBatcher, , doomedCollector] = children;
    const explain = () =>
      children
        .map((c) => `[${c.name}] ${c.out.stderr}`)
        .join('\n')
        .slice(-4000);
    // Samples reserved + spent against the limit of the same read, until stopped: the most it passed
    // the limit by (≤ 0 when it never did) and how many samples it took.
    const sample = () => {
      let over = Number.NEGATIVE_INFINITY;
      let samples = 0;
      let on = true;
      const loop = (async () => {
        while (on) {
          const [u] = await store.budgets.usage();
          if (u) {
            over = Math.max(over, u.spent + u.reserved - u.limitUsd);
            samples++;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      return async () => {
        on = false;
        await loop;
        return { over, samples };
      };
    };
    let stopSampling = sample();
    const usage = async () => (await store.budgets.usage())[0]!;
    const succeeded = async () => (await store.stats.all()).succeeded ?? 0;
    try {
      await waitFor(async () => (await store.budgets.list()).length === 1, {
        timeoutMs: 60_000,
        what: `the budgets file written into the store\n${explain()}`,
      });
      await waitFor(() => emu.inspect.batches().length >= 2, {
        timeoutMs: 60_000,
        what: 'two batches created',
      });
      doomedBatcher!.child.kill('SIGKILL');
      await waitFor(async () => (await succeeded()) >= 8, { timeoutMs: 60_000, what: 'results applied' });
      doomedCollector!.child.kill('SIGKILL');

      // Held: everything submitted is final, nothing is reserved, and what is left of the budget is
      // less than any estimate, so nothing more can be claimed.
      await waitFor(
        async () => {
          const u = await usage();
          const queued = (await store.pending.overview()).total;
          return (
            u.reserved === 0 &&
            u.remaining < Math.min(...ests) &&
            queued + (await succeeded()) === N &&
            (await store.batches.inflightIds()).length === 0
          );
        },
        { timeoutMs: 120_000, what: `the survivors holding the rest, nothing reserved\n${explain()}` },
      );
      const held = await usage();
      const queued = (await store.pending.overview()).total;
      expect(queued).toBeGreaterThan(0);
      expect(held.spent).toBeLessThanOrEqual(limitUsd);
      // spent is the ledger's cost of the feature: settled once per success
      const ledger = (await store.ledger.rows()).filter((r) => r.feature === 'demo-classify');
      expect(held.spent).toBeCloseTo(ledger.reduce((n, r) => n + r.costNano, 0) / 1e9, 9);

      const before = await stopSampling();
      expect(before.samples).toBeGreaterThan(10);
      expect(before.over).toBeLessThanOrEqual(0);
      stopSampling = sample();
      const raise = await runCliCaptured(['budget', 'set', 'demo', '1000/day'], {
        REDIS_URL: fx.url,
        NIGHTSHIFT_PREFIX: prefix,
      });
      expect(raise.code).toBe(0);
      await waitFor(async () => (await succeeded()) === N && (await usage()).reserved === 0, {
        timeoutMs: 90_000,
        what: `every request delivered after the raise\n${explain()}`,
      });
      expect((await stopSampling()).over).toBeLessThanOrEqual(0);
      expect((await store.stats.all()).dead ?? 0).toBe(0);
      const done = await usage();
      expect(done.spent).toBeCloseTo(
        (await store.ledger.rows()).reduce((n, r) => n + r.costNano, 0) / 1e9,
        9,
      );
      // the estimates against what was paid: the measurement ARCHITECTURE.md "Budgets" quotes
      console.info(
        `budgets e2e: ${N} demo requests, estimated $${ests.reduce((a, b) => a + b, 0).toFixed(6)}, settled $${done.spent.toFixed(6)} (reserved/settled ${(ests.reduce((a, b) => a + b, 0) / done.spent).toFixed(1)}×); limit $${limitUsd} held ${queued} requests`,
      );
    } finally {
      await stopSampling();
      await killAll(children);
      await producer.close();
      await emu.close();
    }
  });
});
