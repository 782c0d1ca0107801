import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRedis, deliverResults, openQueue, Store } from '@nightshift/store';
import { spawnTs, uniquePrefix, useRedis, waitFor } from '@nightshift/testing';
import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { collectorResult, record, success } from './helpers.js';

/**
 * kill -9 of a result worker's process at random points of 100-result jobs. Each round adds a job,
 * kills the worker once it has made a random number of handler calls for it, starts a new worker
 * and lets it finish the job. `RESULT_WORKER_KILLS=200` runs a longer version (default: 4 kills).
 */
const KILLS = Number(process.env.RESULT_WORKER_KILLS ?? 4);
const RESULTS = 100;
const MAX_UNRECORDED = 10;
const CONCURRENCY = 4;
/** JSON has no Infinity; `RESULT_WORKER_UNBOUNDED=1` shows what the test catches without the bound. */
const maxUnrecorded = process.env.RESULT_WORKER_UNBOUNDED ? null : MAX_UNRECORDED;
const FIXTURE = fileURLToPath(new URL('./fixtures/result-worker-process.ts', import.meta.url));

const fx = useRedis((url) => createRedis({ url: url }, 'client'));

/** A worker process and every handler call it made, in order. */
class WorkerProcess {
  readonly calls: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private ready = false;

  constructor(prefix: string) {
    this.child = spawnTs(
      FIXTURE,
      [
        JSON.stringify({
          redisUrl: fx.url,
          prefix,
          concurrency: CONCURRENCY,
          maxUnrecorded,
          lockDurationMs: 1_000,
        }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    let rest = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') this.ready = true;
        else if (line.startsWith('call ')) this.calls.push(line.slice(5));
      }
    });
  }

  waitReady() {
    return waitFor(() => this.ready, { what: 'the worker process ready', timeoutMs: 60_000 });
  }

  /** Calls made for the given custom_ids. */
  callsOf(cids: Set<string>): string[] {
    return this.calls.filter((c) => cids.has(c));
  }

  /** SIGKILL; resolves once the process is gone and everything it wrote has been read. */
  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    await new Promise<void>((resolve) => {
      if (this.child.stdout!.readableEnded) resolve();
      else this.child.stdout!.once('end', resolve);
    });
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** A 100-result job exactly as the collector leaves it: records that succeeded and name it. */
async function addJob(queue: Queue, store: Store, round: number): Promise<{ id: string; cids: string[] }> {
  const id = `res-msgbatch_k-${round}`;
  const cids = Array.from({ length: RESULTS }, (_, i) => `doc_k${round}_${i}`);
  await store.records.enqueue(cids.map((c) => record(c, 'queued')));
  await store.outcomes.apply(cids.map((c) => success(c, id)));
  await deliverResults(queue, [{ id, results: cids.map((c) => collectorResult(c, 'x')) }]);
  return { id, cids };
}

const dupes = (list: string[]) => list.length - new Set(list).size;

describe('when the result worker process is killed -9 mid-job', () => {
  it(
    `hands out again at most maxUnrecorded + concurrency (${MAX_UNRECORDED} + ${CONCURRENCY}) results per kill, and loses none (${KILLS} kills)`,
    async () => {
      const prefix = uniquePrefix();
      const store = new Store(fx.redis, prefix);
      const queue = openQueue('results', fx.redis, prefix);
      const repeats: number[] = [];
      let worker = new WorkerProcess(prefix);
      try {
        await worker.waitReady();
        // A kill that lands after the job completed tests nothing: such rounds do not count.
        for (let round = 0; repeats.length < KILLS && round < 3 * KILLS; round++) {
          const job = await addJob(queue, store, round);
          const cids = new Set(job.cids);
          const killAfter = 1 + Math.floor(Math.random() * (RESULTS - 1));
          await waitFor(() => worker.callsOf(cids).length >= killAfter, { what: `${killAfter} calls` });
          await worker.kill9();
          // A completed result job is removed at once: 'unknown' once it is done.
          const midJob = (await queue.getJobState(job.id)) !== 'unknown';
          const before = worker.callsOf(cids);
          worker = new WorkerProcess(prefix);
          await waitFor(async () => (await queue.getJobState(job.id)) === 'unknown', {
            what: `job ${job.id} completed by the next worker`,
            timeoutMs: 60_000,
          });
          const after = worker.callsOf(cids);
          const again = after.filter((c) => before.includes(c));
          if (midJob) repeats.push(again.length);
          // Every result reached a handler; no process called it twice for one result.
          expect(new Set([...before, ...after])).toEqual(cids);
          expect(dupes(before) + dupes(after)).toBe(0);
          expect(again.length, `round ${round}: killed after ${before.length} calls`).toBeLessThanOrEqual(
            MAX_UNRECORDED + CONCURRENCY,
          );
        }
      } finally {
        await worker.stop();
        await queue.close();
      }
      expect(repeats.length, 'kills that landed mid-job').toBe(KILLS);
      if (process.env.RESULT_WORKER_KILLS) {
        const sorted = [...repeats].sort((a, b) => a - b);
        process.stdout.write(
          `repeats per mid-job kill (${KILLS} kills): median ${sorted[sorted.length >> 1]}, max ${sorted.at(-1)}; ${JSON.stringify(repeats)}\n`,
        );
      }
    },
    3 * KILLS * 30_000 + 60_000,
  );
});
