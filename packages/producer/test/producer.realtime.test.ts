import Anthropic from '@anthropic-ai/sdk';
import { type Emulator, type Fault, startEmulator } from '@nightshift/emulator';
import type { DeadLetterPayload, ResultJobData } from '@nightshift/shared';
import { createRedis, openQueue, Store } from '@nightshift/store';
import { silentLogger, uniquePrefix, useRedis } from '@nightshift/testing';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProducer, DeadlineTooSoonError, type Producer, type ProducerOptions } from '../src/index.js';
import { docRequest } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let emu: Emulator;
let client: Anthropic;
let prefix: string;
let store: Store;
let results: Queue<ResultJobData>;
let deadLetters: Queue<DeadLetterPayload>;
const closers: (() => Promise<unknown>)[] = [];

const HOUR = 3_600_000;
const soon = () => Date.now() + 2 * HOUR;

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
  client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 0 });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await emu.close();
});
beforeEach(() => {
  emu.control.clearFaults();
  prefix = uniquePrefix();
  store = new Store(fx.redis, prefix);
  results = openQueue<ResultJobData>('results', fx.redis, prefix);
  deadLetters = openQueue<DeadLetterPayload>('deadLetters', fx.redis, prefix);
  closers.push(
    () => results.close(),
    () => deadLetters.close(),
  );
});

function make(over: Partial<ProducerOptions> = {}): Producer {
  const p = createProducer({ connection: fx.redis, prefix, client, logger: silentLogger, ...over });
  closers.push(() => p.close());
  return p;
}
const messageCalls = () => emu.inspect.stats().calls.messages;
/** Document `i` with a deadline only the real-time path meets, and allowed to take it. */
const urgent = (i: number) => docRequest(i, { deadline: soon(), realtime: 'fallback' });
/** Enqueues document 1 as {@link urgent} while the Messages API answers its call with `fault`. */
async function urgentAgainst(fault: Omit<Extract<Fault, { kind: 'status' }>, 'endpoint' | 'kind'>) {
  emu.control.injectFault({ endpoint: 'messages', kind: 'status', ...fault });
  return make().enqueue(urgent(1));
}

describe('a deadline the batch path cannot meet, with the real-time fallback', () => {
  it('is sent at once and its result comes back through {results} at list price', async () => {
    const producer = make();
    const calls = messageCalls();
    const r = await producer.enqueue(urgent(1));
    expect(r).toMatchObject({ outcome: 'realtime', state: 'succeeded' });
    expect(r.status).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(messageCalls()).toBe(calls + 1);

    const job = await results.getJob(`res-${r.customId}`);
    expect(job?.data.results).toHaveLength(1);
    expect(job?.data.results[0]).toMatchObject({
      customId: r.customId,
      feature: 'classify-docs',
      metadata: { docId: '1' },
      mode: 'realtime',
      batchId: null,
      attempt: 1,
    });
    const { cost } = job!.data.results[0]!;
    expect((await store.records.get(r.customId))?.delivery).toBe(job!.id);
    expect(cost.cost).toBeGreaterThan(0);
    expect(cost.cost).toBe(cost.realtimeEquivalent);
    expect(cost.savings).toBe(0);

    const rows = await store.ledger.rows();
    expect(rows).toEqual([
      expect.objectContaining({ mode: 'realtime', feature: 'classify-docs', results: 1 }),
    ]);
    expect(rows[0]!.costNano).toBe(rows[0]!.listNano);
    expect((await store.pending.overview()).total).toBe(0);

    // Enqueued again: known and done, no second call.
    expect((await producer.enqueue(urgent(1))).outcome).toBe('exists');
    expect(messageCalls()).toBe(calls + 1);
  });

  it('follows the producer default, and a request can still say never', async () => {
    const producer = make({ realtime: 'fallback' });
    const res = await producer.enqueueMany([
      docRequest(1),
      docRequest(2, { deadline: soon() }),
      docRequest(3, { deadline: soon() }),
    ]);
    expect(res.map((r) => [r.outcome, r.state])).toEqual([
      ['queued', 'queued'],
      ['realtime', 'succeeded'],
      ['realtime', 'succeeded'],
    ]);
    expect(await results.getJobCounts('waiting')).toEqual({ waiting: 2 });
    expect((await store.pending.overview()).total).toBe(1);
    const err = await producer
      .enqueue(docRequest(4, { deadline: soon(), realtime: 'never' }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(DeadlineTooSoonError);
  });

  it('dead-letters a request the API refuses, with the API error', async () => {
    const refusal = 'messages: text content blocks must be non-empty';
    const r = await urgentAgainst({ status: 400, errorType: 'invalid_request_error', message: refusal });
    expect(r).toMatchObject({ outcome: 'realtime', state: 'dead' });
    expect(r.status).toMatchObject({
      state: 'dead',
      reason: 'invalid_request_error',
      lastError: { type: 'invalid_request_error', message: refusal },
    });
    const dead = await deadLetters.getJob(`dead-${r.customId}-1`);
    expect(dead?.data).toMatchObject({
      customId: r.customId,
      reason: 'invalid_request_error',
      batchId: null,
      metadata: { docId: '1' },
      params: { model: 'claude-haiku-4-5', max_tokens: 16 },
      attempts: [expect.objectContaining({ outcome: 'errored', errorType: 'invalid_request_error' })],
    });
    expect(await results.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(await store.ledger.rows()).toEqual([]);
  });

  it('leaves a request in real-time after a transient error, for the collector to call again', async () => {
    const r = await urgentAgainst({ status: 529 });
    expect(r).toMatchObject({ outcome: 'realtime', state: 'realtime' });
    expect(r.status.state).toBe('realtime');
    expect(await store.realtime.stale(Date.now() + 1)).toEqual([r.customId]);
    expect(await deadLetters.getJobCounts('waiting')).toEqual({ waiting: 0 });
  });

  it('keeps a request real-time when the API refuses the account, and stops submissions', async () => {
    const r = await urgentAgainst({
      status: 400,
      errorCode: 'organization_on_hold',
      message: 'This organization has been disabled.',
    });
    expect(r).toMatchObject({ outcome: 'realtime', state: 'realtime' });
    expect(await deadLetters.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(await store.circuit.state()).toMatchObject({
      open: true,
      kind: 'account',
      code: 'organization_on_hold',
      reason: '400 organization_on_hold: This organization has been disabled.',
    });
    expect((await store.alerts.list()).map((a) => a.code)).toEqual(['circuit-open']);
  });

  it('answers every request of a bulk with at most two calls at a time', async () => {
    const producer = make({ realtime: 'fallback', realtimeConcurrency: 2 });
    const reqs = Array.from({ length: 12 }, (_, i) => docRequest(i, { deadline: soon() }));
    const res = await producer.enqueueMany(reqs);
    expect(res.every((r) => r.outcome === 'realtime' && r.state === 'succeeded')).toBe(true);
    expect(await results.getJobCounts('waiting')).toEqual({ waiting: 12 });
  });

  it('close waits for real-time calls in progress', async () => {
    const producer = make({ realtime: 'fallback' });
    const pending = producer.enqueue(docRequest(1, { deadline: soon() }));
    await producer.close();
    expect((await pending).state).toBe('succeeded');
    await expect(producer.enqueue(docRequest(2))).rejects.toThrow(/closed/);
  });
});
