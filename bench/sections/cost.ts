/**
 * Section 7: the cost view. The demo workload (or a variant with several cached system prompts
 * interleaved) goes through the real pipeline in this process — producer (or Store.enqueue),
 * batcher, collector — against the emulator, whose cache accounting credits a cache hit only within
 * one batch. The collector's ledger then gives the tokens by tier, the batch cost and the same
 * tokens at the real-time (list) price.
 */
import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { createProducer, type EnqueueRequest } from '@nightshift/producer';
import { canonicalJson, createLogger, fromNano, sha256Hex, type TokenCounts } from '@nightshift/shared';
import { type EnqueueItem, Store } from '@nightshift/store';
import { waitFor } from '@nightshift/testing';
import { demoRequests } from '../../packages/cli/src/demo/workload.js';
import type { BenchEnv } from '../lib/env.js';

/** How one scenario puts requests into batches. */
type Packing = 'grouped' | 'mixed' | 'uncached';

/** One row of the cost view. */
interface CostRow {
  scenario: string;
  packing: Packing;
  prompts: number;
  requests: number;
  batches: number;
  tokens: TokenCounts;
  /** Paid at the batch price (50 % of list), USD. */
  batchUsd: number;
  /** The same tokens at the real-time (list) price, USD. */
  realtimeUsd: number;
}

export interface CostView {
  requests: number;
  prompts: number;
  maxRequests: number;
  rows: CostRow[];
}

const logger = createLogger('bench-cost', 'warn');

/** Request i of the variant gets system prompt i mod `prompts` ("desk" k): interleaved prompts. */
function variant(requests: EnqueueRequest[], prompts: number, cached: boolean): EnqueueRequest[] {
  return requests.map((r, i) => {
    const [block] = r.params.system as Anthropic.TextBlockParam[];
    const text = `Desk ${i % prompts} of the records office.\n${block!.text}`;
    const system: Anthropic.TextBlockParam[] = cached
      ? [{ type: 'text', text, cache_control: block!.cache_control ?? { type: 'ephemeral' } }]
      : [{ type: 'text', text }];
    return { ...r, params: { ...r.params, system } };
  });
}

/** "Without grouping": every request written into ONE group, in interleaved order (claim order = custom_id order). */
async function enqueueMixed(store: Store, requests: EnqueueRequest[]) {
  const items: EnqueueItem[] = requests.map((r, i) => {
    const cid = `mixed-${String(i).padStart(6, '0')}`;
    const params = canonicalJson(r.params);
    return {
      cid,
      feature: r.feature,
      model: r.params.model,
      params,
      phash: sha256Hex(params),
      meta: '',
      deadline: null,
      partition: 'default',
      group: 'mixed',
      bytes: Buffer.byteLength(`{"custom_id":"${cid}","params":${params}}`),
      realtimeAllowed: false,
      state: 'queued',
    };
  });
  await store.records.enqueue(items);
}

async function runScenario(
  env: BenchEnv,
  prefix: string,
  requests: EnqueueRequest[],
  packing: Packing,
  maxRequests: number,
) {
  const store = new Store(env.redis, prefix);
  const client = new Anthropic({ apiKey: 'bench-key', baseURL: env.emuUrl });
  if (packing === 'mixed') await enqueueMixed(store, requests);
  else {
    const producer = createProducer({ connection: env.redis, prefix, logger });
    await producer.enqueueMany(requests);
    await producer.close();
  }
  const batcher = await startBatcher({
    connection: env.redis,
    prefix,
    client,
    logger,
    runWorker: false,
    maxRequests,
  });
  const report = await batcher.runFlushOnce('manual');
  await batcher.close();
  const collector = await startCollector({ connection: env.redis, prefix, client, logger, concurrency: 4 });
  await waitFor(async () => (await store.batches.inflightIds()).length === 0, { timeoutMs: 120_000 });
  await collector.close();
  return { batches: report.batches.length, ledger: await store.ledger.rows() };
}

function sumLedger(rows: Awaited<ReturnType<Store['ledger']['rows']>>) {
  const tokens: TokenCounts = { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 };
  let costNano = 0;
  let listNano = 0;
  for (const r of rows) {
    for (const k of Object.keys(tokens) as (keyof TokenCounts)[]) tokens[k] += r.tokens[k];
    costNano += r.costNano;
    listNano += r.listNano;
  }
  return { tokens, batchUsd: fromNano(costNano), realtimeUsd: fromNano(listNano) };
}

/**
 * Four scenarios of `n` requests with batches of at most `maxRequests`: the demo workload as shipped
 * (one cached prompt), and a variant with `prompts` cached system prompts interleaved — grouped by
 * the producer's cache-prefix groups, mixed (one group for all), and without cache_control at all.
 */
export async function benchCost(
  env: BenchEnv,
  n: number,
  prompts: number,
  maxRequests: number,
): Promise<CostView> {
  await env.reset();
  const demo = demoRequests(n);
  const scenarios: { name: string; packing: Packing; prompts: number; requests: EnqueueRequest[] }[] = [
    { name: 'demo workload (1 cached prompt)', packing: 'grouped', prompts: 1, requests: demo },
    {
      name: `${prompts} cached prompts, grouped`,
      packing: 'grouped',
      prompts,
      requests: variant(demo, prompts, true),
    },
    {
      name: `${prompts} cached prompts, mixed (no grouping)`,
      packing: 'mixed',
      prompts,
      requests: variant(demo, prompts, true),
    },
    {
      name: `${prompts} prompts, no cache_control`,
      packing: 'uncached',
      prompts,
      requests: variant(demo, prompts, false),
    },
  ];
  const rows: CostRow[] = [];
  for (const [i, s] of scenarios.entries()) {
    const { batches, ledger } = await runScenario(env, `cost${i}`, s.requests, s.packing, maxRequests);
    rows.push({
      scenario: s.name,
      packing: s.packing,
      prompts: s.prompts,
      requests: n,
      batches,
      ...sumLedger(ledger),
    });
  }
  return { requests: n, prompts, maxRequests, rows };
}
