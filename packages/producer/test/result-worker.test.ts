import { jobIds, QUEUES } from '@nightshift/shared';
import { createRedis, deliverResults, openQueue, Store } from '@nightshift/store';
import { silentLogger, uniquePrefix, useRedis, waitFor } from '@nightshift/testing';
import type { Job, Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createResultWorker,
  type ResultEvent,
  type ResultWorker,
  type ResultWorkerOptions,
} from '../src/index.js';
import { collectorResult, record, success } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

function setup(
  handler: (r: ResultEvent) => Promise<void> | void,
  opts: Pick<ResultWorkerOptions, 'maxUnrecorded' | 'concurrency'> & { viaUrl?: boolean } = {},
) {
  const prefix = uniquePrefix();
  const store = new Store(fx.redis, prefix);
  const queue: Queue = openQueue('results', fx.redis, prefix);
  const { viaUrl, ...tuning } = opts;
  const consumer: ResultWorker = createResultWorker(
    viaUrl
      ? { redisUrl: fx.url, prefix, handler, logger: silentLogger, ...tuning }
      : { connection: fx.redis, prefix, handler, logger: silentLogger, ...tuning },
  );
  closers.push(
    () => queue.close(),
    () => consumer.close(),
  );
  // A completed result job is removed at once: its completion is seen here, not in the queue.
  const completed: Job[] = [];
  consumer.worker.on('completed', (job) => completed.push(job));
  const done = (id: string, times = 1) => completed.filter((j) => j.id === id).length >= times;
  return { queue, consumer, store, completed, done };
}

describe('createResultWorker', () => {
  it('hands each result of a job written in the collector’s format to the handler, with its text', async () => {
    const got: ResultEvent[] = [];
    const { queue, completed, done } = setup((r) => {
      got.push(r);
    });
    const job = {
      id: 'res-msgbatch_r1-a',
      results: [collectorResult('doc_a', 'invoice'), collectorResult('doc_b', 'contract')],
    };
    await deliverResults(queue, [job]);
    await waitFor(() => got.length === 2, { what: 'two results' });
    const a = got.find((r) => r.customId === 'doc_a')!;
    expect(a).toMatchObject({
      feature: 'classify-docs',
      text: 'invoice',
      batchId: 'msgbatch_r1',
      attempt: 1,
      mode: 'batch',
      metadata: { docId: 'doc_a' },
      usage: { input: 1000, output: 10 },
    });
    expect(a.cost.cost).toBeCloseTo(a.cost.realtimeEquivalent / 2, 12);
    expect(a.message.content[0]).toMatchObject({ type: 'text', text: 'invoice' });
    await waitFor(() => done(job.id), { what: 'completed' });
    expect(completed[0]?.name).toBe('classify-docs');
    // Removed on completion: the message text is no longer in Redis.
    expect(await queue.getJob(job.id)).toBeUndefined();
  });

  it('retries a job whose handler threw, calling it again only for the results not handled', async () => {
    const calls: string[] = [];
    let failed = false;
    const { queue, completed, done } = setup(
      (r) => {
        calls.push(r.customId);
        if (r.customId === 'doc_c2' && !failed) {
          failed = true;
          throw new Error('database down');
        }
      },
      { viaUrl: true },
    );
    const id = 'res-msgbatch_r1-c';
    await deliverResults(queue, [
      { id, results: ['doc_c1', 'doc_c2', 'doc_c3'].map((c) => collectorResult(c, 'other')) },
    ]);
    await waitFor(() => done(id), { what: 'the result job completed after a retry' });
    expect(calls.sort()).toEqual(['doc_c1', 'doc_c2', 'doc_c2', 'doc_c3']);
    expect(completed.find((j) => j.id === id)?.attemptsMade).toBe(2);
  });

  describe('when Redis stops answering mid-job (its record of handled results cannot advance)', () => {
    // Frozen with SIGSTOP: the job's progress writes hang, as they would with a slow Redis, and no
    // result may be handed out once more than maxUnrecorded handled ones are unrecorded.
    it.each([
      { maxUnrecorded: 3, concurrency: 4, name: '3 + 4' },
      { maxUnrecorded: 0, concurrency: 1, name: '0 + 1' },
    ])(
      'hands out exactly maxUnrecorded + concurrency results ($name)',
      async ({ maxUnrecorded, concurrency }) => {
        const pid = Number(/process_id:(\d+)/.exec(await fx.redis.info('server'))?.[1]);
        let release: () => void = () => {};
        const held = new Promise<void>((r) => {
          release = r;
        });
        const calls: string[] = [];
        const { queue, done } = setup(
          async (r) => {
            if (calls.push(r.customId) === 1) process.kill(pid, 'SIGSTOP');
            // The first maxUnrecorded return at once; the next ones stay in progress until released.
            if (calls.length > maxUnrecorded) await held;
          },
          { maxUnrecorded, concurrency },
        );
        const id = `res-msgbatch_r1-f${maxUnrecorded}`;
        const cids = Array.from({ length: 30 }, (_, i) => `doc_f${maxUnrecorded}_${i}`);
        await deliverResults(queue, [{ id, results: cids.map((c) => collectorResult(c, 'x')) }]);
        const bound = maxUnrecorded + concurrency;
        try {
          await waitFor(() => calls.length === bound, { what: `${bound} handler calls` });
          release(); // now all of them are handled and unrecorded: nothing more may be handed out
          await new Promise((r) => setTimeout(r, 300));
          expect(calls).toHaveLength(bound);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        await waitFor(() => done(id), { what: 'the job done' });
        expect([...calls].sort()).toEqual([...cids].sort());
      },
    );
  });

  it('delivers a result only from the job its record names, however many jobs carry it', async () => {
    const got: string[] = [];
    const { queue, store, done } = setup((r) => {
      got.push(r.customId);
    });
    await store.records.enqueue(['doc_d', 'doc_e'].map((c) => record(c, 'queued')));
    // doc_d succeeded with job A; job B carries it too (a re-stream). doc_e's apply never
    // happened (Redis lost it) although its job exists: nothing may reach the service.
    await store.outcomes.apply([success('doc_d', 'res-b1-A')]);
    await deliverResults(queue, [
      { id: 'res-b1-B', results: [collectorResult('doc_d', 'invoice'), collectorResult('doc_e', 'x')] },
      { id: 'res-b1-A', results: [collectorResult('doc_d', 'invoice')] },
    ]);
    await waitFor(() => done('res-b1-A') && done('res-b1-B'), { what: 'both jobs done' });
    expect(got).toEqual(['doc_d']);
    // Job A delivered doc_d and compacted its record; job B compacted nothing.
    expect(await store.records.status('doc_d')).toMatchObject({ state: 'succeeded', compacted: true });
    expect(await store.records.get('doc_e')).toMatchObject({ state: 'queued', feature: 'classify-docs' });
  });

  it('holds a real-time answer until it is applied, then delivers it once', async () => {
    const got: string[] = [];
    const { queue, store, done } = setup((r) => {
      got.push(r.customId);
    });
    await store.records.enqueue([record('doc_rt', 'realtime')]);
    const payload = { ...collectorResult('doc_rt', 'invoice'), mode: 'realtime' as const, batchId: null };
    await deliverResults(queue, [{ id: jobIds.result('doc_rt'), results: [payload] }]);
    await waitFor(async () => (await queue.getJobState(jobIds.result('doc_rt'))) === 'delayed', {
      what: 'the job waiting for the apply',
    });
    expect(got).toEqual([]);
    await store.outcomes.apply([success('doc_rt', jobIds.result('doc_rt'))]);
    await waitFor(() => got.length === 1, { what: 'the answer delivered', timeoutMs: 10_000 });
    await waitFor(() => done(jobIds.result('doc_rt')), { what: 'the job completed' });
    // The same answer added again (the sweep repeating a call whose process died) after the first
    // job completed and was removed: a job again, but the compacted record says it was delivered.
    await deliverResults(queue, [{ id: jobIds.result('doc_rt'), results: [payload] }]);
    await waitFor(() => done(jobIds.result('doc_rt'), 2), { what: 'the second job completed' });
    expect(got).toEqual(['doc_rt']);
  });

  it('still delivers a job of the earlier one-result format', async () => {
    const got: string[] = [];
    const { queue } = setup((r) => {
      got.push(r.text);
    });
    await queue.add('classify-docs', collectorResult('doc_old', 'legacy'), {
      jobId: jobIds.result('doc_old'),
    });
    await waitFor(() => got.length === 1, { what: 'the legacy result' });
    expect(got).toEqual(['legacy']);
  });

  it('closes idempotently and refuses bad options', async () => {
    const { consumer } = setup(() => {});
    const [a, b] = [consumer.close(), consumer.close()];
    expect(a).toBe(b);
    await a;
    expect(() => createResultWorker({ handler: () => {} })).toThrow(/connection or redisUrl/);
    expect(QUEUES.results).toBe('{results}');
  });
});
