import { DEFAULT_PRICES, type ResultPayload } from '@nightshift/shared';
import { buildSuccess, createRedis, deliverResults, openQueue, Store } from '@nightshift/store';
import { claimInto, uniquePrefix, useRedis } from '@nightshift/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { item, message, type Seeded, seed, startBoard, T0 } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));

/**
 * Parses Prometheus text into `name{labels}` → value, checking every sample belongs to a metric
 * declared before it (a histogram's `_bucket`, `_sum` and `_count` belong to the histogram).
 */
function parse(text: string): Map<string, number> {
  const declared = new Map<string, string>();
  const out = new Map<string, number>();
  for (const line of text.trim().split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (gauge|counter|histogram|summary)$/.exec(line);
    if (type) {
      declared.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!declared.has(m[1]!) && declared.get(family) !== 'histogram' && declared.get(family) !== 'summary')
      throw new Error(`sample before its # TYPE: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]));
  }
  return out;
}

/** The three admission gauges: requests at the API, the cap the last flush recorded, and what it held back. */
const admission = (m: Map<string, number>) => ({
  inFlight: m.get('nightshift_requests_in_flight'),
  cap: m.get('nightshift_requests_in_flight_cap'),
  held: m.get('nightshift_requests_held_by_admission'),
});

describe('/metrics', () => {
  let board: Board;
  let seeded: Seeded;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniquePrefix();
    seeded = await seed(fx.redis, prefix);
    board = await startBoard(fx.redis, prefix);
  });
  afterAll(async () => {
    await board.close();
    await seeded.deadLetters.close();
  });

  const scrape = async () => parse(await (await fetch(`${board.url}/metrics`)).text());

  it('matches the seeded store: queued, oldest age, batches, results, dead letters, heartbeats', async () => {
    const m = await scrape();
    expect(m.get('nightshift_requests_queued{partition="default"}')).toBe(2);
    expect(m.get('nightshift_requests_queued{partition="acme"}')).toBe(2);
    expect(m.get('nightshift_oldest_queued_age_seconds')).toBe(600);
    expect(m.get('nightshift_batches_in_flight{status="in_progress"}')).toBe(1);
    expect(m.get('nightshift_results_total{type="succeeded"}')).toBe(2);
    expect(m.get('nightshift_results_total{type="dead"}')).toBe(1);
    expect(m.get('nightshift_batches_submitted_total')).toBe(1);
    expect(m.get('nightshift_dead_letters')).toBe(1);
    expect(m.get('nightshift_heartbeat_age_seconds{role="collector",instance="col-1"}')).toBe(20);
    expect([...m.keys()].some((k) => k.startsWith('nightshift_heartbeat_age_seconds{role="batcher"'))).toBe(
      false,
    );
    expect(m.get('nightshift_circuit_open')).toBe(0);
    // Admission: the seeded batch's 3 requests are at the API; no flush has recorded a cap yet.
    expect(admission(m)).toEqual({ inFlight: 3, cap: 0, held: 0 });
    expect(m.get('nightshift_queue_jobs{queue="dead-letters",state="waiting"}')).toBe(1);
    expect(m.get('nightshift_queue_jobs{queue="results",state="waiting"}')).toBe(0);
  });

  it('shows liveness per role, the oldest batch, its expiry and archive, and Redis memory', async () => {
    const m = await scrape();
    expect(m.get('nightshift_role_heartbeat_age_seconds{role="collector"}')).toBe(20);
    expect(m.get('nightshift_role_last_work_age_seconds{role="collector"}')).toBe(30);
    // No batcher ever beat: +Inf, so an alert comparing it with its threshold fires.
    expect(m.get('nightshift_role_heartbeat_age_seconds{role="batcher"}')).toBe(Number.POSITIVE_INFINITY);
    expect(m.get('nightshift_role_stale_after_seconds{role="collector"}')).toBe(180);
    // The batch was submitted 5 min before T0 and expires 24 h after its creation.
    expect(m.get('nightshift_oldest_batch_in_flight_age_seconds')).toBe(300);
    expect(m.get('nightshift_batch_expires_in_seconds{status="in_progress"}')).toBe(24 * 3600 - 300);
    expect(m.get('nightshift_batch_archive_in_seconds{state="submitted"}')).toBe(29 * 86_400 - 300);
    const used = [...m.entries()].find(([k]) => k.startsWith('nightshift_redis_used_memory_bytes{node='));
    expect(used?.[1]).toBeGreaterThan(0);
    // The board's own process metrics and its identity come with the fleet's.
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect([...m.keys()].some((k) => k.startsWith('nightshift_info{role="board"'))).toBe(true);
  });

  it('reads Redis once per scrape, whatever the number of fleet metrics', async () => {
    const monitor = await (fx.redis as Redis).monitor();
    let reads = 0;
    monitor.on('monitor', (_t: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'hgetall' && args[1]?.endsWith(':{req}:stats')) reads++;
    });
    await scrape();
    await monitor.disconnect();
    expect(reads).toBe(1);
  });

  it('reports cost and savings by feature, model and mode from the ledger', async () => {
    const m = await scrape();
    expect(
      m.get('nightshift_cost_usd_total{feature="classify-docs",model="claude-haiku-4-5",mode="batch"}'),
    ).toBeCloseTo(seeded.paid, 9);
    expect(
      m.get('nightshift_savings_usd_total{feature="classify-docs",model="claude-haiku-4-5"}'),
    ).toBeCloseTo(seeded.list - seeded.paid, 9);
    expect(
      m.get('nightshift_list_price_usd_total{feature="classify-docs",model="claude-haiku-4-5",mode="batch"}'),
    ).toBeCloseTo(seeded.list, 9);
  });

  it('follows changes: results delivered, a real-time success, a batch collected, the circuit opened', async () => {
    const results = openQueue('results', fx.redis, prefix);
    const payloads = ['r1', 'r2'].map(
      (cid) => ({ customId: cid, feature: 'classify-docs', mode: 'batch' }) as unknown as ResultPayload,
    );
    await deliverResults(results, [{ id: 'res-b1-r', results: payloads }]);
    await results.close();
    // c4 goes the real-time way: list price paid, no savings.
    const rt = buildSuccess({
      customId: 'c4',
      feature: 'classify-docs',
      metadata: null,
      model: 'claude-haiku-4-5',
      message: message('claude-haiku-4-5', 2000, 0),
      mode: 'realtime',
      batchId: null,
      attempt: 1,
      prices: DEFAULT_PRICES,
      now: T0,
    });
    await seeded.store.outcomes.apply([rt.item], T0);
    await seeded.store.batches.markCollected(seeded.batchId, { succeeded: 2, errored: 1 }, T0);
    await seeded.store.admission.record({ cap: 100, inFlight: 3, held: 12, at: T0, instance: 'b1' });
    await seeded.store.circuit.open(
      {
        kind: 'billing',
        code: 'enforced_spend_limit_reached',
        reason: '429 enforced_spend_limit_reached: monthly cap',
        fix: 'Raise the tier.',
        cooldownMs: 60_000,
        maxCooldownMs: 600_000,
      },
      T0,
    );

    const m = await scrape();
    // One job carries both batch results; the real-time answer was applied without a job here.
    expect(m.get('nightshift_queue_jobs{queue="results",state="waiting"}')).toBe(1);
    expect(m.get('nightshift_requests_queued{partition="default"}')).toBe(1);
    expect(m.get('nightshift_results_total{type="realtime_succeeded"}')).toBe(1);
    expect(
      m.get('nightshift_cost_usd_total{feature="classify-docs",model="claude-haiku-4-5",mode="realtime"}'),
    ).toBeCloseTo(0.002, 9);
    expect(
      m.get('nightshift_savings_usd_total{feature="classify-docs",model="claude-haiku-4-5"}'),
    ).toBeCloseTo(0.002, 9);
    expect([...m.keys()].some((k) => k.startsWith('nightshift_batches_in_flight{'))).toBe(false);
    expect(admission(m)).toEqual({ inFlight: 0, cap: 100, held: 12 });
    expect(m.get('nightshift_circuit_open')).toBe(1);
    expect(m.get('nightshift_circuit_refusal{kind="billing",code="enforced_spend_limit_reached"}')).toBe(1);
    expect(m.get('nightshift_circuit_next_probe_seconds')).toBeGreaterThan(0);
    expect(m.get('nightshift_circuit_probes_refused')).toBe(0);
    expect(m.get('nightshift_alerts{code="circuit-open"}')).toBe(1);
  });
});

describe('/metrics on an empty deployment', () => {
  it('answers zeros, not errors', async () => {
    const board = await startBoard(fx.redis, uniquePrefix());
    try {
      const m = parse(await (await fetch(`${board.url}/metrics`)).text());
      expect(m.get('nightshift_oldest_queued_age_seconds')).toBe(0);
      expect(m.get('nightshift_dead_letters')).toBe(0);
      expect(m.get('nightshift_circuit_open')).toBe(0);
      expect(m.get('nightshift_queue_jobs{queue="flush",state="waiting"}')).toBe(0);
    } finally {
      await board.close();
    }
  });
});

describe('/metrics of budgets', () => {
  it('gauges each budget’s limit, spent, reserved and remaining dollars in its current window', async () => {
    const prefix = uniquePrefix();
    const store = new Store(fx.redis, prefix);
    await store.budgets.set({ name: 'docs', period: 'day', limitUsd: 10, mode: 'hold', alertAt: 0.8 });
    await store.budgets.set({
      name: 'tenant',
      period: 'month',
      limitUsd: 100,
      partition: 'acme',
      mode: 'refuse',
      alertAt: 0.8,
    });
    await store.records.enqueue([item('a', { est: 2_000_000_000 })], { now: T0 });
    await claimInto(store, 'g-default', { now: T0, reason: 'size' });
    const board = await startBoard(fx.redis, prefix);
    try {
      const m = parse(await (await fetch(`${board.url}/metrics`)).text());
      const of = (what: string, budget: string, mode: string) =>
        m.get(`nightshift_budget_${what}_dollars{budget="${budget}",mode="${mode}"}`);
      expect(of('limit', 'docs/day', 'hold')).toBe(10);
      expect(of('reserved', 'docs/day', 'hold')).toBe(2);
      expect(of('spent', 'docs/day', 'hold')).toBe(0);
      expect(of('remaining', 'docs/day', 'hold')).toBe(8);
      expect(of('remaining', 'tenant/month', 'refuse')).toBe(100);
    } finally {
      await board.close();
    }
  });
});
