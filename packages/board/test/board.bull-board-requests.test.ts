import { createRedis, Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { item, type Lifecycle, memoryLogger, seedLifecycle, startBoard } from './helpers.js';

const fx = useRedis((url) => createRedis({ url }, 'client'));

interface QueueView {
  name: string;
  counts: Record<string, number>;
  jobs: {
    id: string;
    name: string;
    data: Record<string, unknown>;
    failedReason: string;
    returnValue: unknown;
  }[];
  isPaused: boolean;
  readOnlyMode: boolean;
}

async function requestsQueue(board: Board, status: string, page = 1): Promise<QueueView> {
  const res = await fetch(
    `${board.url}/queues/api/queues?activeQueue=requests&status=${status}&page=${page}&jobsPerPage=50`,
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as { queues: QueueView[] };
  return body.queues.find((q) => q.name === 'requests')!;
}

const put = (board: Board, path: string) =>
  fetch(`${board.url}/queues/api/queues/requests/${path}`, {
    method: 'PUT',
    headers: { origin: board.url },
  });

describe('Bull Board requests queue over the store', () => {
  let board: Board;
  let life: Lifecycle;
  const log = memoryLogger();

  beforeAll(async () => {
    const prefix = uniquePrefix();
    life = await seedLifecycle(fx.redis, prefix, Date.now());
    board = await startBoard(fx.redis, prefix, { now: Date.now, logger: log.logger });
  });
  afterAll(async () => {
    await board.close();
    await Promise.all(life.queues.map((q) => q.close()));
  });

  it('counts each state from the store', async () => {
    const q = await requestsQueue(board, 'latest');
    expect(q.counts).toEqual({ waiting: 3, delayed: 1, active: 2, completed: 1, failed: 1 });
    // The same figures as the overview's (the store's counters): queued = waiting + delayed.
    const overview = (await (await fetch(`${board.url}/api/overview`)).json()) as {
      waiting: { total: number };
      deadLetters: { total: number };
    };
    expect(overview.waiting.total).toBe(q.counts.waiting! + q.counts.delayed!);
    expect(overview.deadLetters.total).toBe(q.counts.failed);
  });

  it('pages each state with its requests', async () => {
    expect((await requestsQueue(board, 'waiting')).jobs.map((j) => j.id)).toEqual(life.waiting);
    expect((await requestsQueue(board, 'waiting', 2)).jobs).toEqual([]);
    const delayed = (await requestsQueue(board, 'delayed')).jobs;
    expect(delayed.map((j) => j.id)).toEqual([life.delayed]);
    expect(delayed[0]!.data.readyAt).toBe(new Date(life.readyAt).toISOString());
    const active = (await requestsQueue(board, 'active')).jobs;
    expect(active.map((j) => j.id)).toEqual(life.active);
    expect(active[0]!.data.batch).toMatchObject({
      id: life.inflightBatch,
      status: 'in_progress',
      age: '12 min',
    });
    const completed = (await requestsQueue(board, 'completed')).jobs;
    expect(completed.map((j) => j.id)).toEqual([life.succeeded]);
    expect(completed[0]!.data.usage).toMatchObject({ input: 1000, output: 200 });
    const failed = (await requestsQueue(board, 'failed')).jobs;
    expect(failed.map((j) => j.id)).toEqual([life.dead]);
    expect(failed[0]!.failedReason).toBe('invalid_request: messages.0.content: must not be empty');
  });

  it('shows one request in full with its result', async () => {
    const res = await fetch(`${board.url}/queues/api/queues/requests/${life.succeeded}`);
    const { job, status } = (await res.json()) as { job: QueueView['jobs'][number]; status: string };
    expect(status).toBe('completed');
    expect(job.returnValue).toMatchObject({ text: life.resultText });
    expect(job.data).toMatchObject({
      customId: life.succeeded,
      partition: 'acme',
      metadata: { ticket: 'T-1042' },
    });
  });

  it('refuses actions a state has no meaning for, and what would bypass the store', async () => {
    expect((await put(board, `${life.waiting[0]}/retry`)).status).toBe(403);
    expect((await put(board, `${life.active[0]}/clean`)).status).toBe(403);
    expect((await put(board, `${life.waiting[0]}/promote`)).status).toBe(403);
    const add = await fetch(`${board.url}/queues/api/queues/requests/add`, {
      method: 'POST',
      headers: { origin: board.url, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', data: {} }),
    });
    expect(add.status).toBe(403);
    const cross = await fetch(`${board.url}/queues/api/queues/requests/${life.waiting[0]}/clean`, {
      method: 'PUT',
      headers: { origin: 'http://evil.example' },
    });
    expect(cross.status).toBe(403);
    expect((await life.store.records.get(life.waiting[0]!))?.state).toBe('queued');
    expect((await life.store.records.get(life.active[0]!))?.state).toBe('claimed');
  });

  it('pauses and resumes batching (the {flush} queue) when the requests queue is paused', async () => {
    expect((await put(board, 'pause')).status).toBe(200);
    expect((await requestsQueue(board, 'latest')).isPaused).toBe(true);
    const q = (await (await fetch(`${board.url}/queues/api/queues`)).json()) as { queues: QueueView[] };
    expect(q.queues.find((x) => x.name === '{flush}')?.isPaused).toBe(true);
    expect((await put(board, 'resume')).status).toBe(200);
    expect((await requestsQueue(board, 'latest')).isPaused).toBe(false);
    const audits = log.lines().filter((l) => l.audit === true && l.queue === 'requests');
    expect(audits.map((l) => l.action)).toEqual(
      expect.arrayContaining(['bull-board: pause batching', 'bull-board: resume batching']),
    );
  });

  it('promotes a delayed request, cancels a queued one and retries a dead one through the store', async () => {
    expect((await put(board, `${life.delayed}/promote`)).status).toBe(204);
    const promoted = await life.store.records.get(life.delayed);
    expect(Number(promoted?.readyAt)).toBeLessThanOrEqual(Date.now());
    expect((await put(board, `${life.waiting[2]}/clean`)).status).toBe(204);
    expect((await life.store.records.get(life.waiting[2]!))?.state).toBe('canceled');
    expect((await put(board, `${life.dead}/retry`)).status).toBe(204);
    expect((await life.store.records.get(life.dead))?.state).toBe('queued');
    const q = await requestsQueue(board, 'latest');
    expect(q.counts).toEqual({ waiting: 4, delayed: 0, active: 2, completed: 1, failed: 0 });
    const audits = log.lines().filter((l) => l.audit === true && l.queue === 'requests');
    expect(audits.map((l) => [l.action, l.outcome])).toContainEqual([
      'bull-board: cancel request',
      'allowed',
    ]);
    expect(audits.map((l) => [l.action, l.outcome])).toContainEqual([
      'bull-board: retry dead request',
      'allowed',
    ]);
  });

  it('still shows a delivered request, compacted, as completed: its batch, time, cost and one attempt', async () => {
    const [rec] = await life.store.records.peek([life.succeeded], ['delivery', 'batchId', 'completedAt']);
    expect(await life.store.outcomes.delivered(rec!.delivery, [life.succeeded])).toEqual([true]);
    const q = await requestsQueue(board, 'completed');
    expect(q.counts.completed).toBe(1);
    const [job] = q.jobs;
    expect(job).toMatchObject({ id: life.succeeded, name: 'delivered', returnValue: null });
    expect(job!.data).toMatchObject({
      customId: life.succeeded,
      state: 'succeeded',
      batchId: rec!.batchId,
      completedAt: new Date(Number(rec!.completedAt)).toISOString(),
      attempts: [expect.stringMatching(/^attempt 1 in .+: succeeded at /)],
    });
    expect(job!.data.costUsd).toBeGreaterThan(0);
  });
});

describe('a huge request in Bull Board', () => {
  it('is listed without its params and shown cut on its own page', async () => {
    const prefix = uniquePrefix();
    const long = 'x'.repeat(300_000);
    const params = JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: long }],
    });
    const store = new Store(fx.redis, prefix);
    await store.records.enqueue([item('r-huge', { params, bytes: params.length + 30 })], { now: Date.now() });
    // A record of nonsense renders too (a deadline Date cannot hold, history that is not JSON).
    await store.records.enqueue([item('r-odd')], { now: Date.now() });
    await fx.redis.hset(rawStore(store).keys.record('r-odd'), {
      deadline: '1e20',
      hist: '{not json',
      meta: '{"a":',
    });
    const board = await startBoard(fx.redis, prefix, { now: Date.now });
    try {
      const listed = (await requestsQueue(board, 'waiting')).jobs[0]!;
      expect(listed.data.params).toMatch(/^\d+ bytes, not loaded for the list/);
      const res = await fetch(`${board.url}/queues/api/queues/requests/r-huge`);
      const text = await res.text();
      expect(text.length).toBeLessThan(20_000);
      expect(text).toContain('more characters]');
      expect((await fetch(`${board.url}/queues/api/queues/requests/not%20an%20id`)).status).toBe(404);
      const odd = (await (await fetch(`${board.url}/queues/api/queues/requests/r-odd`)).json()) as {
        job: { data: Record<string, unknown> };
      };
      expect(odd.job.data).toMatchObject({ deadline: 'out of range', metadata: '{"a":' });
    } finally {
      await board.close();
    }
  });
});
