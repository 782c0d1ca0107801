/**
 * `pnpm bench:bullboard`: what one Bull Board page view of the store's requests costs with a
 * large backlog, beside the same views with a small one in the same run.
 *
 * Set-up: a fresh redis-server; for each size, `queued` requests written with the store's enqueue
 * (1,000 per Lua call) over 10 partitions × 10 groups, of which 1 % are then claimed and requeued
 * into retry backoff (delayed). Then a board (in this process, no auth, loopback) answers
 * `views` page views of each kind, one after the other: the requests queue's first page of waiting
 * requests, its 100th page, the first page of delayed requests and the "latest" view (every
 * state). A page view is what Bull Board's UI asks every few seconds: `/queues/api/queues` with
 * the requests queue active, which also counts every state of every queue.
 *
 * Measured per kind: the answer's latency (median, max). The baseline is the small size
 * (`baseline` requests), measured in the same run; the figure to read is the ratio. Nothing here
 * is asserted: `bull-board.quick.test.ts` runs it tiny so it cannot rot.
 *
 *   pnpm bench:bullboard [--queued 1000000] [--baseline 10000] [--views 20] [--out bench/out/bull-board.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBoard } from '@nightshift/board';
import { createRedis, type EnqueueItem, type RedisClient, Store } from '@nightshift/store';
import { silentLogger, startRedisServer } from '@nightshift/testing';
import { benchArgs } from './lib/args.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PARTITIONS = 10;
const GROUPS_PER_PARTITION = 10;
/** Views answered before the measured ones (JIT, connections). */
const WARM_UP = 5;

export interface BullBoardBenchOptions {
  queued: number;
  baseline: number;
  views: number;
  log?: (line: string) => void;
}

/** The page views measured at one size. */
export type ViewKind = 'waiting, page 1' | 'waiting, page 100' | 'delayed, page 1' | 'latest';
export interface SizeFigures {
  queued: number;
  delayed: number;
  seedMs: number;
  redisUsedMB: number;
  views: Record<ViewKind, { medianMs: number; maxMs: number; jobs: number }>;
  counts: Record<string, number>;
}

export interface BullBoardBenchResult {
  options: Omit<BullBoardBenchOptions, 'log'>;
  baseline: SizeFigures;
  large: SizeFigures;
}

const VIEWS: Record<ViewKind, string> = {
  'waiting, page 1': 'status=waiting&page=1',
  'waiting, page 100': 'status=waiting&page=100',
  'delayed, page 1': 'status=delayed&page=1',
  latest: 'status=latest',
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

async function seed(redis: RedisClient, prefix: string, queued: number, now: number) {
  const store = new Store(redis, prefix);
  const started = performance.now();
  const groups = PARTITIONS * GROUPS_PER_PARTITION;
  for (let i = 0; i < queued; i += 1000) {
    const chunk: EnqueueItem[] = [];
    for (let j = i; j < Math.min(queued, i + 1000); j++) {
      const g = j % groups;
      const params = `{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"doc ${j}"}]}`;
      chunk.push({
        cid: `r${j}`,
        feature: 'classify-docs',
        model: 'claude-haiku-4-5',
        params,
        phash: `h${j}`,
        meta: '',
        deadline: null,
        partition: `tenant-${g % PARTITIONS}`,
        group: `g${g}`,
        bytes: params.length + 20,
        realtimeAllowed: false,
        state: 'queued',
      });
    }
    await store.records.enqueue(chunk, { now: now - 60_000 });
  }
  // 1 % into retry backoff: claimed from one group, then requeued with a ready time an hour ahead.
  const delayed = Math.floor(queued / 100);
  await store.submissions.open({
    id: 'bench-sub',
    partition: 'tenant-0',
    reason: 'manual',
    owner: 'bench',
    leaseMs: 60_000,
    now,
  });
  for (let left = delayed; left > 0; ) {
    const { items } = await store.submissions.claim('g0', 'bench-sub', Math.min(left, 2000), 1e12, now);
    if (items.length === 0) break;
    left -= items.length;
    await store.outcomes.apply(
      items.map(([cid]) => ({
        cid,
        action: 'requeue' as const,
        guardSub: 'bench-sub',
        readyAt: now + 3_600_000,
        error: { type: 'overloaded_error', message: 'Overloaded' },
        entry: {
          attempt: 1,
          batchId: null,
          outcome: 'errored' as const,
          errorType: 'overloaded_error',
          at: now,
        },
        countsAttempt: true,
      })),
      now,
    );
  }
  await store.submissions.release('bench-sub', { now });
  return { seedMs: Math.round(performance.now() - started), delayed };
}

async function measureSize(
  redis: RedisClient,
  prefix: string,
  queued: number,
  views: number,
  log: (l: string) => void,
): Promise<SizeFigures> {
  const now = Date.now();
  log(`seeding ${queued.toLocaleString('en-US')} queued requests (${prefix})…`);
  const { seedMs, delayed } = await seed(redis, prefix, queued, now);
  const info = await redis.info('memory');
  const redisUsedMB = Math.round(Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1048576);
  log(`  seeded in ${(seedMs / 1000).toFixed(1)} s; Redis uses ${redisUsedMB} MB`);
  const board = await createBoard({ connection: redis, prefix, port: 0, logger: silentLogger });
  try {
    const out = {} as SizeFigures['views'];
    let counts: Record<string, number> = {};
    for (const [kind, query] of Object.entries(VIEWS) as [ViewKind, string][]) {
      const url = `${board.url}/queues/api/queues?activeQueue=requests&${query}&jobsPerPage=50`;
      const times: number[] = [];
      let jobs = 0;
      for (let i = 0; i < views + WARM_UP; i++) {
        const t = performance.now();
        const res = await fetch(url);
        const body = (await res.json()) as {
          queues: { name: string; jobs: unknown[]; counts: Record<string, number> }[];
        };
        if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
        const q = body.queues.find((x) => x.name === 'requests')!;
        jobs = q.jobs.length;
        counts = q.counts;
        if (i >= WARM_UP) times.push(performance.now() - t);
      }
      out[kind] = { medianMs: +median(times).toFixed(1), maxMs: +Math.max(...times).toFixed(1), jobs };
      log(`  ${kind}: median ${out[kind].medianMs} ms, max ${out[kind].maxMs} ms, ${jobs} jobs`);
    }
    return { queued, delayed, seedMs, redisUsedMB, views: out, counts };
  } finally {
    await board.close();
  }
}

/** Runs the benchmark on a throwaway redis-server. */
export async function runBullBoardBench(o: BullBoardBenchOptions): Promise<BullBoardBenchResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const server = await startRedisServer();
  const redis = createRedis({ url: server.url }, 'client');
  try {
    const baseline = await measureSize(redis, 'bbsmall', o.baseline, o.views, log);
    const large = await measureSize(redis, 'bblarge', o.queued, o.views, log);
    return { options: { queued: o.queued, baseline: o.baseline, views: o.views }, baseline, large };
  } finally {
    await redis.quit();
    await server.stop();
  }
}

/** The table rows BENCHMARKS.md shows: one per view kind, large beside baseline. */
export function renderBullBoardBench(r: BullBoardBenchResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (Object.keys(VIEWS) as ViewKind[])
    .map((k) => {
      const b = r.baseline.views[k];
      const l = r.large.views[k];
      const ratio = b.medianMs > 0 ? (l.medianMs / b.medianMs).toFixed(2) : '–';
      return `| ${k} | ${l.jobs} | ${b.medianMs} / ${b.maxMs} (${n(r.baseline.queued)}) | ${l.medianMs} / ${l.maxMs} (${n(r.large.queued)}) | ${ratio}× |`;
    })
    .join('\n');
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { numbers, strings } = benchArgs(
    { queued: 1_000_000, baseline: 10_000, views: 20 },
    { out: join(ROOT, 'bench/out/bull-board.json') },
  );
  const r = await runBullBoardBench(numbers);
  mkdirSync(dirname(strings.out), { recursive: true });
  writeFileSync(strings.out, `${JSON.stringify(r, null, 2)}\n`);
  console.log(
    `\n| view | jobs | baseline ms, median / max (queued) | large ms, median / max (queued) | ratio |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(renderBullBoardBench(r));
  console.log(`\ncounts at ${r.large.queued}: ${JSON.stringify(r.large.counts)}; written to ${strings.out}`);
  process.exit(0);
}
