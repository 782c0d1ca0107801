/**
 * deploy/grafana/nightshift.json against what the roles really export: the batcher, collector,
 * board, HTTP API, webhooks and result worker are started on registries of their own (as their bins
 * and a service do),
 * and every metric name a panel's query uses must be one of theirs (or Prometheus' own `up`). The
 * queries' syntax is checked by a real Prometheus in test/prometheus.e2e.test.ts.
 */
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { createApi } from '@nightshift/api';
import { startBatcher } from '@nightshift/batcher';
import { createBoard } from '@nightshift/board';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createResultWorker } from '@nightshift/producer';
import { createRedis } from '@nightshift/store';
import { createRoleRegistry, type Registry, watchRedis } from '@nightshift/telemetry';
import { silentLogger, useRedis } from '@nightshift/testing';
import { startWebhooks } from '@nightshift/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, metricNames } from './dashboard.js';

const DASHBOARD = JSON.parse(
  readFileSync(new URL('../deploy/grafana/nightshift.json', import.meta.url), 'utf8'),
);
/** What a panel's data source is: the dashboard's variable, picked at import. */
const GRAFANA_DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');
/** Series Prometheus makes itself for every target. */
const PROMETHEUS_OWN = ['up'];

const fx = useRedis((url) => createRedis({ url: url }, 'worker'));
let emu: Emulator;
const exported = new Set<string>(PROMETHEUS_OWN);

/** The series names a registry exposes (a histogram is its _bucket, _sum and _count). */
function seriesOf(registry: Registry): string[] {
  return registry.getMetricsAsArray().flatMap((m) => {
    const { name, type } = m as unknown as { name: string; type: string };
    return type === 'histogram' || type === 'summary'
      ? [`${name}_bucket`, `${name}_sum`, `${name}_count`, name]
      : [name];
  });
}

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
  const client = new Anthropic({ apiKey: 'k', baseURL: emu.url, maxRetries: 0 });
  const logger = silentLogger;
  const role = (name: string) => {
    const registry = createRoleRegistry(name);
    watchRedis(registry, fx.redis).stop();
    return registry;
  };
  const [b, c, d, a, w] = [role('batcher'), role('collector'), role('board'), role('api'), role('webhooks')];
  const service = role('service');
  const batcher = await startBatcher({ connection: fx.redis, client, runWorker: false, logger, metrics: b });
  const collector = await startCollector({
    connection: fx.redis,
    client,
    runWorker: false,
    logger,
    metrics: c,
  });
  const board = await createBoard({ connection: fx.redis, port: 0, logger, metrics: d });
  const api = await createApi({ connection: fx.redis, port: 0, logger, metrics: a });
  const webhooks = await startWebhooks({ connection: fx.redis, logger, metrics: w, dispatch: false });
  const worker = createResultWorker({
    connection: fx.redis,
    logger,
    metrics: service,
    handler: () => undefined,
  });
  for (const r of [b, c, d, a, w]) for (const n of seriesOf(r)) exported.add(n);
  // The board's fleet metrics are unregistered when it closes: read them first.
  await Promise.all([worker.close(), collector.close(), batcher.close(), api.close(), webhooks.close()]);
  for (const n of seriesOf(service)) exported.add(n);
  await board.close();
});
afterAll(async () => {
  await emu.close();
});

describe('deploy/grafana/nightshift.json', () => {
  const queries = dashboardQueries(DASHBOARD);

  it('is a dashboard with a Prometheus data-source variable and panels that use it', () => {
    expect(DASHBOARD.uid).toBe('nightshift');
    const vars = DASHBOARD.templating.list.map((v: { name: string; type: string }) => `${v.name}:${v.type}`);
    expect(vars).toContain('datasource:datasource');
    const panels = DASHBOARD.panels.filter((p: { type: string }) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(20);
    const ids = DASHBOARD.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.datasource.uid, p.title).toBe(GRAFANA_DATASOURCE_VARIABLE);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
  });

  it('queries only metrics the roles export', () => {
    expect(exported.has('nightshift_collector_enqueue_to_result_seconds_bucket')).toBe(true);
    expect(exported.has('nightshift_requests_queued')).toBe(true);
    for (const { panel, expr } of queries) {
      const names = metricNames(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${panel}: ${name} is exported`).toBe(true);
    }
  });

  it('covers what the issue asks for: backlog, batches and their age, outcomes, cost vs real-time, latency, liveness', () => {
    const used = new Set(queries.flatMap((q) => metricNames(q.expr)));
    for (const name of [
      'nightshift_requests_queued',
      'nightshift_batches_in_flight',
      'nightshift_oldest_batch_in_flight_age_seconds',
      'nightshift_collector_results_applied_total',
      'nightshift_cost_usd_total',
      'nightshift_list_price_usd_total',
      'nightshift_batcher_create_duration_seconds_bucket',
      'nightshift_collector_enqueue_to_result_seconds_bucket',
      'nightshift_collector_batch_time_to_end_seconds_bucket',
      'nightshift_role_heartbeat_age_seconds',
      'process_resident_memory_bytes',
      'nightshift_api_requests_total',
      'nightshift_webhook_attempts_total',
      'nightshift_webhook_event_to_delivery_seconds_bucket',
      'nightshift_webhook_outbox_backlog',
    ])
      expect(used.has(name), name).toBe(true);
  });
});
