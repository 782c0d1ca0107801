/**
 * `pnpm bench:board`: the board's memory and render time while people watch large dead letters.
 *
 * Set-up: a fresh redis-server and an emulator (instant processing, every request refused with
 * `invalid_request_error`, in this process); `dead` requests of `mb` MB each enqueued with the
 * producer, flushed by the batcher and collected, so each ends as a real dead letter whose job
 * carries its full params (what the collector writes). Then the real `nightshift-board` bin starts
 * as its own process (no auth, loopback), and two phases run one after the other:
 *
 * - **overview**: `viewers` people open `/` and let its script refresh `/api/overview?fragments=1`
 *   `refreshes − 1` times, back to back (the page waits 5 s between refreshes: this is the worst
 *   case of many refreshes landing at once);
 * - **Bull Board**: `viewers` people on the dead-letters queue of Bull Board with 300 jobs per
 *   page (the most its settings offer), each polling `/queues/api/queues` `refreshes` times.
 *
 * For each phase: wall time, per-request latency (median, max), and the board process's RSS
 * before, at its peak (Linux `VmHWM`, reset before the phase through `/proc/<pid>/clear_refs`) and
 * after. Nothing here is asserted: `board-memory.quick.test.ts` runs it tiny so it cannot rot.
 *
 *   pnpm bench:board [--dead 40] [--mb 4] [--viewers 10] [--refreshes 5] [--out bench/out/board-memory.json]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { startEmulator } from '@nightshift/emulator';
import { createProducer } from '@nightshift/producer';
import { createRedis, openQueue } from '@nightshift/store';
import { silentLogger, spawnTs, startRedisServer, waitFor } from '@nightshift/testing';
import { benchArgs } from './lib/args.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BOARD_BIN = join(ROOT, 'packages/board/src/bin.ts');
const PREFIX = 'boardmem';

export interface BoardBenchOptions {
  dead: number;
  mb: number;
  viewers: number;
  refreshes: number;
  log?: (line: string) => void;
}

/** One phase: what the viewers saw and what the board process used. */
export interface PhaseFigures {
  requests: number;
  failed: number;
  /** Set when the board process died during the phase (e.g. out of memory). */
  boardDied?: string;
  wallMs: number;
  latencyMs: { median: number; max: number };
  rssMB: { before: number; peak: number; after: number };
  /** Bytes of the largest answer (what one refresh sends to a browser). */
  largestAnswerBytes: number;
  /** Bull Board phase: jobs in the largest page answered. */
  jobsPerAnswer?: number;
}

export interface BoardBenchResult {
  options: Omit<BoardBenchOptions, 'log'>;
  seedMs: number;
  boardIdleRssMB: number;
  overview: PhaseFigures;
  bullBoard: PhaseFigures;
}

const mb = (kb: number) => Math.round(kb / 1024);

/** A figure of `/proc/<pid>/status` in kB; 0 once the process is gone. */
function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

/** Resets the process's peak RSS so VmHWM measures one phase (Linux ≥ 4.0; ignored elsewhere). */
function resetPeak(pid: number) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not allowed here: VmHWM then covers the process's whole life.
  }
}

/** 40 requests of `mb` MB each, refused by the emulator, collected into dead letters. */
async function seedDeadLetters(redisUrl: string, o: BoardBenchOptions): Promise<number> {
  const t0 = Date.now();
  const emulator = await startEmulator({ processing: 'instant', quiet: true, recordRequests: false });
  emulator.control.injectOutcome({
    rate: 1,
    outcome: 'errored',
    errorType: 'invalid_request_error',
    message: 'messages.0.content: prompt is too long',
  });
  const client = new Anthropic({ apiKey: 'bench', baseURL: emulator.url });
  const connection = createRedis({ url: redisUrl }, 'worker');
  const producer = createProducer({ connection, prefix: PREFIX, logger: silentLogger });
  const text = 'lorem ipsum dolor sit amet '.repeat(Math.ceil((o.mb * 1024 * 1024) / 27));
  await producer.enqueueMany(
    Array.from({ length: o.dead }, (_, i) => ({
      key: `doc-${i}`,
      feature: 'summarize-contracts',
      params: {
        model: 'claude-haiku-4-5',
        max_tokens: 200,
        messages: [{ role: 'user' as const, content: `${i} ${text.slice(0, o.mb * 1024 * 1024)}` }],
      },
    })),
  );
  const batcher = await startBatcher({
    connection,
    prefix: PREFIX,
    client,
    logger: silentLogger,
    runWorker: false,
  });
  const collector = await startCollector({
    connection,
    prefix: PREFIX,
    client,
    pollMs: 200,
    logger: silentLogger,
    logUsage: false,
  });
  await batcher.runFlushOnce('manual');
  const deadLetters = openQueue('deadLetters', connection, PREFIX);
  await waitFor(async () => (await deadLetters.getWaitingCount()) >= o.dead, {
    timeoutMs: 300_000,
    what: `${o.dead} dead letters`,
  });
  await deadLetters.close();
  await collector.close();
  await batcher.close();
  await producer.close();
  connection.disconnect();
  await emulator.close();
  return Date.now() - t0;
}

interface BoardProcess {
  url: string;
  pid: number;
  /** Why the process ended early (`exited with …` and its last stderr lines), or null while it runs. */
  died(): string | null;
  stop(): Promise<void>;
}

async function startBoardProcess(redisUrl: string): Promise<BoardProcess> {
  const child = spawnTs(BOARD_BIN, [], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: redisUrl,
      NIGHTSHIFT_PREFIX: PREFIX,
      NIGHTSHIFT_BOARD_PORT: '0',
      NIGHTSHIFT_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => tail.push(l));
  let death: string | null = null;
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) death = `exited with ${signal ?? `code ${code}`}: ${tail.slice(-5).join(' | ')}`;
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`board did not start:\n${tail.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`board exited (${code}):\n${tail.join('\n')}`)));
  });
  return {
    url,
    pid: child.pid!,
    died: () => death,
    stop: async () => {
      stopping = true;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
};

/** `viewers` concurrent loops, each fetching `paths(i)` in order; the board's RSS around it. */
async function phase(
  board: BoardProcess,
  viewers: number,
  paths: (viewer: number) => string[],
  countJobs?: (body: string) => number,
): Promise<PhaseFigures> {
  // Let the previous phase's garbage go before measuring "before".
  await new Promise((r) => setTimeout(r, 1000));
  const before = procKb(board.pid, 'VmRSS');
  resetPeak(board.pid);
  let sampledPeak = before;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, procKb(board.pid, 'VmRSS'));
  }, 50);
  const latencies: number[] = [];
  let failed = 0;
  let largest = 0;
  let jobs = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: viewers }, async (_, v) => {
      for (const path of paths(v)) {
        const s = Date.now();
        try {
          const res = await fetch(`${board.url}${path}`);
          const body = await res.text();
          if (!res.ok) failed++;
          largest = Math.max(largest, Buffer.byteLength(body));
          if (countJobs && res.ok) jobs = Math.max(jobs, countJobs(body));
        } catch {
          failed++; // the connection broke: the board died or gave up
        }
        latencies.push(Date.now() - s);
      }
    }),
  );
  const wallMs = Date.now() - t0;
  clearInterval(sampler);
  const peak = Math.max(sampledPeak, procKb(board.pid, 'VmHWM'));
  return {
    requests: latencies.length,
    failed,
    wallMs,
    latencyMs: { median: median(latencies), max: Math.max(0, ...latencies) },
    rssMB: { before: mb(before), peak: mb(peak), after: mb(procKb(board.pid, 'VmRSS')) },
    largestAnswerBytes: largest,
    ...(countJobs ? { jobsPerAnswer: jobs } : {}),
    ...(board.died() ? { boardDied: board.died()! } : {}),
  };
}

/** Runs the whole benchmark once (see the file's header). */
export async function runBoardBench(o: BoardBenchOptions): Promise<BoardBenchResult> {
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const server = await startRedisServer();
  try {
    log(`seeding ${o.dead} dead letters of ${o.mb} MB …`);
    const seedMs = await seedDeadLetters(server.url, o);
    const board = await startBoardProcess(server.url);
    try {
      await (await fetch(`${board.url}/`)).text(); // warm-up: code paths loaded once
      const boardIdleRssMB = mb(procKb(board.pid, 'VmRSS'));
      log(`board up (${boardIdleRssMB} MB); overview phase: ${o.viewers} viewers × ${o.refreshes}`);
      const overview = await phase(board, o.viewers, () => [
        '/',
        ...Array.from({ length: o.refreshes - 1 }, () => '/api/overview?fragments=1'),
      ]);
      log(`overview: ${JSON.stringify(overview)}`);
      log(`Bull Board phase: ${o.viewers} viewers × ${o.refreshes}, jobsPerPage=300`);
      const q = encodeURIComponent('{dead-letters}');
      const bull = `/queues/api/queues?activeQueue=${q}&status=latest&page=1&jobsPerPage=300`;
      const bullBoard = await phase(
        board,
        o.viewers,
        () => Array.from({ length: o.refreshes }, () => bull),
        (body) => {
          const parsed = JSON.parse(body) as { queues?: { name: string; jobs: unknown[] }[] };
          return parsed.queues?.find((x) => x.name === '{dead-letters}')?.jobs.length ?? 0;
        },
      );
      log(`Bull Board: ${JSON.stringify(bullBoard)}`);
      const { log: _log, ...options } = o;
      return { options, seedMs, boardIdleRssMB, overview, bullBoard };
    } finally {
      await board.stop();
    }
  } finally {
    await server.stop();
  }
}

/** The figures as a Markdown table (BENCHMARKS.md "Board under large dead letters"). */
export function renderBoardBench(r: BoardBenchResult, label: string): string {
  const row = (name: string, p: PhaseFigures) =>
    `| ${label} | ${name}${p.boardDied ? ` (board ${p.boardDied.split(':')[0]})` : ''} | ${p.requests} (${p.failed} failed) | ${(p.wallMs / 1000).toFixed(1)} | ` +
    `${p.latencyMs.median} / ${p.latencyMs.max} | ${p.rssMB.before} → ${p.rssMB.peak} → ${p.rssMB.after} | ` +
    `${(p.largestAnswerBytes / 1024).toFixed(0)} KB${p.jobsPerAnswer === undefined ? '' : ` (${p.jobsPerAnswer} jobs)`} |`;
  return [row('overview', r.overview), row('Bull Board, dead letters', r.bullBoard)].join('\n');
}

async function main() {
  const { numbers, strings } = benchArgs(
    { dead: 40, mb: 4, viewers: 10, refreshes: 5 },
    { label: 'this run', out: join(ROOT, 'bench/out/board-memory.json') },
  );
  const r = await runBoardBench(numbers);
  mkdirSync(dirname(strings.out), { recursive: true });
  writeFileSync(strings.out, `${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n\n${renderBoardBench(r, strings.label)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:board failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
