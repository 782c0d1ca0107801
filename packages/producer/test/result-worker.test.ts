import { createLogger, DEFAULT_PRICES, QUEUES, type ResultPayload } from '@nightshift/shared';
import { buildSuccess, createRedis, deliverResults, openQueue, type RedisClient } from '@nightshift/store';
import { type RedisServer, startRedisServer, waitFor } from '@nightshift/testing';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResultWorker, type ResultEvent, type ResultWorker } from '../src/index.js';
import { fakeMessage, uniquePrefix } from './helpers.js';

let server: RedisServer;
let redis: RedisClient;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  redis = createRedis({ url: server.url }, 'client');
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await redis.quit();
  await server.stop();
});

/** A result exactly as the collector writes it: buildSuccess → deliverResults. */
function collectorResult(customId: string, text: string): ResultPayload {
  return buildSuccess({
    customId,
    feature: 'classify-docs',
    metadata: { docId: customId, __proto__: 'kept as data' },
    model: 'claude-haiku-4-5',
    message: fakeMessage(text),
    mode: 'batch',
    batchId: 'msgbatch_r1',
    attempt: 1,
    prices: DEFAULT_PRICES,
  }).payload;
}

const logger = createLogger('result-worker-test', 'silent');

function setup(handler: (r: ResultEvent) => Promise<void> | void, viaUrl = false) {
  const prefix = uniquePrefix();
  const queue: Queue = openQueue('results', redis, prefix);
  const consumer: ResultWorker = createResultWorker(
    viaUrl
      ? { redisUrl: server.url, prefix, handler, logger }
      : { connection: redis, prefix, handler, logger },
  );
  closers.push(
    () => queue.close(),
    () => consumer.close(),
  );
  return { queue, consumer };
}

describe('createResultWorker', () => {
  it('hands each result written in the collector’s format to the handler, with its text', async () => {
    const got: ResultEvent[] = [];
    const { queue } = setup((r) => {
      got.push(r);
    });
    await deliverResults(queue, [collectorResult('doc_a', 'invoice'), collectorResult('doc_b', 'contract')]);
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
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === 2, { what: 'completed' });
  });

  it('retries a throwing handler and never loses the result', async () => {
    let calls = 0;
    const seen: string[] = [];
    const { queue } = setup((r) => {
      calls++;
      if (calls === 1) throw new Error('database down');
      seen.push(r.text);
    }, true);
    await deliverResults(queue, [collectorResult('doc_c', 'other')]);
    await waitFor(async () => (await queue.getJobState('res-doc_c')) === 'completed', {
      what: 'the result job completed after a retry',
    });
    expect(calls).toBe(2);
    expect(seen).toEqual(['other']);
    const job = await queue.getJob('res-doc_c');
    expect(job?.attemptsMade).toBe(2);
  });

  it('delivers a result once even if the collector writes it twice', async () => {
    const got: string[] = [];
    const { queue } = setup((r) => {
      got.push(r.customId);
    });
    const payload = collectorResult('doc_d', 'invoice');
    await deliverResults(queue, [payload]);
    await waitFor(() => got.length === 1, { what: 'one result' });
    await deliverResults(queue, [payload]);
    expect(await queue.getJobCounts('completed', 'waiting', 'active')).toEqual({
      completed: 1,
      waiting: 0,
      active: 0,
    });
    expect(got).toEqual(['doc_d']);
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
