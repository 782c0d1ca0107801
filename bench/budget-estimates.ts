/**
 * `pnpm bench:budgets [--n 300] [--no-doc]`
 *
 * How far a budget's reservation is from the truth (ARCHITECTURE.md "Budgets"): three workloads
 * through the whole pipeline against the emulator (producer → batcher → collector), each request's
 * estimate (what a budget reserves when it is claimed) summed against what its results cost (what
 * settles), split into the input side (prompt bytes priced as tokens, as a cache write when the
 * prompt has cache_control) and the output side (max_tokens). Not timed. Without `--no-doc` it
 * refreshes BENCHMARKS.md between its `bench:budgets` markers.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { createProducer, type EnqueueRequest } from '@nightshift/producer';
import { DEFAULT_PRICES, priceFor } from '@nightshift/shared';
import { Store } from '@nightshift/store';
import { silentLogger, waitFor } from '@nightshift/testing';
import { demoRequests } from '../packages/cli/src/demo/workload.js';
import { replaceSection } from './lib/doc.js';
import { BenchEnv } from './lib/env.js';
import { codeVersion, machineInfo } from './lib/machine.js';

const DOC = join(dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');
const { values } = parseArgs({
  options: { n: { type: 'string', default: '300' }, 'no-doc': { type: 'boolean', default: false } },
});
const n = Number(values.n);

/** The demo's requests with their prompt cache taken off (every prompt byte is plain input). */
const uncached = (reqs: EnqueueRequest[]): EnqueueRequest[] =>
  reqs.map((r) => {
    const p = r.params as unknown as { system: { type: 'text'; text: string }[] };
    return { ...r, params: { ...r.params, system: p.system.map(({ type, text }) => ({ type, text })) } };
  });
/** Short prompts that may write long answers (max_tokens 1,024). */
const longAnswers = (reqs: EnqueueRequest[]): EnqueueRequest[] =>
  reqs.map((r) => ({
    ...r,
    params: { model: r.params.model, max_tokens: 1024, messages: r.params.messages },
  }));

const WORKLOADS: [string, (reqs: EnqueueRequest[]) => EnqueueRequest[]][] = [
  ['demo (shared 1 h cached system prompt, max_tokens 10)', (r) => r],
  ['demo without cache_control', uncached],
  ['short prompts, max_tokens 1,024', longAnswers],
];

interface Row {
  workload: string;
  reserved: number;
  settled: number;
  inputReserved: number;
  inputSettled: number;
  outputReserved: number;
  outputSettled: number;
}

async function run(env: BenchEnv, name: string, reqs: EnqueueRequest[]): Promise<Row> {
  await env.reset({ minCacheableTokens: 1024 });
  const prefix = 'bench-budgets';
  const client = new Anthropic({ apiKey: 'k', baseURL: env.emuUrl, maxRetries: 0 });
  const store = new Store(env.redis, prefix);
  const producer = createProducer({ connection: env.redis, prefix, logger: silentLogger });
  const batcher = await startBatcher({
    connection: env.redis,
    prefix,
    client,
    logger: silentLogger,
    tickMs: 100,
    maxWaitMs: 1,
    maxRequests: 100,
  });
  const collector = await startCollector({
    connection: env.redis,
    prefix,
    client,
    logger: silentLogger,
    pollMs: 50,
  });
  try {
    // A budget far above the run: every request reserves and settles in it.
    await store.budgets.set({ name: 'bench', period: 'day', limitUsd: 1e6, mode: 'hold', alertAt: 1 });
    await producer.enqueueMany(reqs);
    const ids = reqs.map((r) => producer.customIdFor(r.feature, r.key!));
    const recs = await store.records.peek(ids, ['estimate', 'bytes', 'params', 'model']);
    await waitFor(async () => ((await store.stats.all()).succeeded ?? 0) === reqs.length, {
      timeoutMs: 300_000,
      what: `${name}: every result applied`,
    });
    const [u] = await store.budgets.usage();
    const rows = await store.ledger.rows();
    const price = priceFor(reqs[0]!.params.model, DEFAULT_PRICES)!;
    // The output side of each estimate: max_tokens at the output price (batch: half).
    const outputReserved = recs.reduce(
      (s, r) => s + (JSON.parse(r!.params || '{}').max_tokens ?? 0) * price.output * 0.5e-6,
      0,
    );
    const reserved = recs.reduce((s, r) => s + Number(r!.estimate) / 1e9, 0);
    const outputSettled = rows.reduce((s, r) => s + r.tokens.output * price.output * 0.5e-6, 0);
    const settled = u!.spent;
    return {
      workload: name,
      reserved,
      settled,
      inputReserved: reserved - outputReserved,
      inputSettled: settled - outputSettled,
      outputReserved,
      outputSettled,
    };
  } finally {
    await collector.close();
    await batcher.close();
    await producer.close();
  }
}

const env = await BenchEnv.start();
try {
  const machine = machineInfo(await env.redisVersion());
  const code = codeVersion();
  const out: Row[] = [];
  for (const [name, shape] of WORKLOADS) {
    out.push(await run(env, name, shape(demoRequests(n))));
    process.stderr.write(`${name}: done\n`);
  }
  const usd = (v: number) => `$${v.toFixed(4)}`;
  const x = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');
  const md = [
    `_Run of ${new Date().toISOString()} (\`pnpm bench:budgets --n ${n}\`): ${n} requests per workload through ` +
      `producer, batcher and collector against the emulator (claude-haiku-4-5 prices), Redis ${machine.redis}. ` +
      `Code: ${code.commit}${code.uncommitted.length ? ' plus uncommitted changes' : ''}. Reserved: the sum of the ` +
      'estimates; settled: the real cost of the results (the ledger). Not a timing._',
    '',
    '| workload | reserved | settled | reserved / settled | input side: reserved / settled | output side: reserved / settled |',
    '| --- | --- | --- | --- | --- | --- |',
    ...out.map(
      (r) =>
        `| ${r.workload} | ${usd(r.reserved)} | ${usd(r.settled)} | **${x(r.reserved, r.settled)}** | ` +
        `${usd(r.inputReserved)} / ${usd(r.inputSettled)} (${x(r.inputReserved, r.inputSettled)}) | ` +
        `${usd(r.outputReserved)} / ${usd(r.outputSettled)} (${x(r.outputReserved, r.outputSettled)}) |`,
    ),
  ].join('\n');
  if (!values['no-doc']) replaceSection(DOC, 'bench:budgets', md);
  process.stdout.write(`${md}\n`);
} finally {
  await env.close();
}
