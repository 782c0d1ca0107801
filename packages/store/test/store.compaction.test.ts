/**
 * A finished request shrinks: once its result is delivered (delivered.lua), a succeeded record keeps
 * only its state, params hash, attempts, batch, final time and cost. Measured with MEMORY USAGE on a
 * typical request, and every behaviour that reads a finished record is checked on a compacted one:
 * idempotent enqueue, getStatus, the board's request views, retention, redeliver, cancel, a
 * duplicate result, and a dead letter (never compacted) still retried.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_PREFIX, deriveCustomId } from '@nightshift/shared';
import { openQueue } from '@nightshift/store';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  boardCounts,
  boardPage,
  boardRequests,
  deliverResults,
  resultsWantedByWebhooks,
  Store,
  WebhookEndpoints,
} from '../src/index.js';
import { dead, item, success, T0, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();
let results: Queue;
let deadLetters: Queue;
beforeAll(() => {
  results = openQueue('results', s.redis, 'cq');
  deadLetters = openQueue('deadLetters', s.redis, 'cq');
});
afterAll(async () => {
  await results.close();
  await deadLetters.close();
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const BATCH = 'msgbatch_013Zva2CMHLNnXjNJJKqJ2EF';

/** A typical request: derived custom_id, 1 KB of params, metadata, a real batch id and params hash. */
function typical(key: string) {
  const cid = deriveCustomId('classify-docs', key);
  const params = JSON.stringify({
    model: 'claude-haiku-4-5',
    max_tokens: 16,
    system: 'You classify documents. Labels: invoice, contract, other',
    messages: [{ role: 'user', content: `Document ${key}: ${'lorem ipsum '.repeat(80)}` }],
  });
  return item(cid, {
    feature: 'classify-docs',
    params,
    phash: sha(params),
    meta: JSON.stringify({ docId: key, tenant: 'acme' }),
    bytes: params.length + 40,
  });
}

/** Enqueued, claimed, succeeded in BATCH (delivery job J1) and delivered: compacted. */
async function delivered(store: Store, cids: string[]) {
  await store.outcomes.apply(
    cids.map((cid) => success(cid, { delivery: 'J1', batchId: BATCH, costNano: 81_250 })),
    T0 + 10,
  );
  expect(await store.outcomes.delivered('J1', cids)).toEqual(cids.map(() => true));
}

describe('when a typical request has succeeded and its result was delivered', () => {
  it('its record uses at most 248 bytes (MEMORY USAGE), from ~1,800 before compaction', async () => {
    const store = new Store(s.redis, DEFAULT_PREFIX);
    const req = typical('invoice-2024-0001');
    // A success is taken from a queued record too: no claim needed for the measurement.
    await store.records.enqueue([req], { now: T0 });
    const key = `${DEFAULT_PREFIX}:{req}:rec:${req.cid}`;
    await store.outcomes.apply([success(req.cid, { delivery: 'J1', batchId: BATCH })], T0 + 10);
    const before = Number(await s.redis.memory('USAGE', key));
    await store.outcomes.delivered('J1', [req.cid]);
    const after = Number(await s.redis.memory('USAGE', key));
    // The key alone (67 characters of name, its object and dict entry) is 120 B of it; the fields
    // state, phash (24 hex), done, batch and cost take the rest (a listpack). Before, the
    // history and metadata made it a hashtable: 1,832 B here.
    expect(after).toBeLessThanOrEqual(248);
    expect(before).toBeGreaterThan(5 * after);
    // A service's own short custom_id (13 characters): 216 B at most.
    const short = item('doc-000000001', { phash: sha('x') });
    await store.records.enqueue([short], { now: T0 });
    await store.outcomes.apply([success(short.cid, { delivery: 'J1', batchId: BATCH })], T0 + 10);
    await store.outcomes.delivered('J1', [short.cid]);
    expect(
      Number(await s.redis.memory('USAGE', `${DEFAULT_PREFIX}:{req}:rec:${short.cid}`)),
    ).toBeLessThanOrEqual(216);
  });

  it('enqueueing it again: same params exist, other params conflict, replace cannot reopen it', async () => {
    const req = typical('k1');
    await s.claimed('sub1', [req]);
    await delivered(s.store, [req.cid]);
    expect(await s.store.records.enqueue([req], { now: T0 + 20 })).toEqual([
      { code: 'exists', state: 'succeeded' },
    ]);
    const other = { ...req, params: '{}', phash: sha('{}') };
    expect(await s.store.records.enqueue([other], { now: T0 + 20 })).toEqual([
      { code: 'conflict', state: 'succeeded' },
    ]);
    expect(await s.store.records.enqueue([other], { now: T0 + 20, replace: true })).toEqual([
      { code: 'conflict', state: 'succeeded' },
    ]);
    // The producer's read-only pre-check compares the same way.
    const [cur] = await s.store.records.peek([req.cid], ['state', 'paramsHash']);
    expect(cur).toEqual({ state: 'succeeded', paramsHash: req.phash.slice(0, 24) });
  });

  it('getStatus answers what the record keeps', async () => {
    await s.claimed('sub1', [item('a')]);
    await delivered(s.store, ['a']);
    expect(await s.store.records.status('a')).toEqual({
      customId: 'a',
      state: 'succeeded',
      feature: '',
      model: '',
      attempt: 1,
      enqueuedAt: 0,
      history: [{ attempt: 1, batchId: BATCH, outcome: 'succeeded', at: T0 + 10 }],
      completedAt: T0 + 10,
      batchId: BATCH,
      costUsd: 81_250 / 1e9,
      compacted: true,
    });
  });

  it('the board still counts, pages and shows it as completed', async () => {
    await s.claimed('sub1', [item('a')]);
    await delivered(s.store, ['a']);
    expect((await boardCounts(s.store, deadLetters, T0 + 20)).completed).toBe(1);
    expect(await boardPage(s.store, deadLetters, 'completed', 0, 9, T0 + 20)).toEqual(['a']);
    const [shown] = await boardRequests(s.store, results, ['a'], { paramsUpTo: 1e6, resultDataBytes: 1e6 });
    expect(shown).toMatchObject({
      record: { customId: 'a', state: 'succeeded', batchId: BATCH, completedAt: String(T0 + 10) },
      params: null,
      history: [{ attempt: 1, batchId: BATCH, outcome: 'succeeded', at: T0 + 10 }],
    });
  });

  it('a duplicate result is dup, cancel is refused, redeliver moves nothing', async () => {
    await s.claimed('sub1', [item('a')]);
    await delivered(s.store, ['a']);
    expect(await s.store.outcomes.apply([success('a', { delivery: 'J9' })], T0 + 30)).toEqual([
      { code: 'dup', state: 'succeeded' },
    ]);
    expect(await s.store.records.cancel(['a'], T0 + 30)).toEqual([
      { code: 'not-queued', state: 'succeeded' },
    ]);
    expect(await s.store.outcomes.redeliver('J9', [{ cid: 'a', from: '' }])).toEqual([false]);
    expect(await s.field('a', 'dlv')).toBeNull();
  });

  it('retention deletes it after the retention period, and it leaves the completed count', async () => {
    await s.claimed('sub1', [item('a'), item('b')]);
    await delivered(s.store, ['a', 'b']);
    expect(await s.store.retention.purgeFinal(T0 + 11)).toMatchObject({ deleted: 2 });
    expect(await s.redis.exists(s.keys.record('a'), s.keys.record('b'))).toBe(0);
    expect(await s.hash(s.keys.finalCount)).toEqual({ succeeded: '0' });
    // Gone after retention: the same custom_id is a new request.
    expect(await s.store.records.enqueue([item('a')], { now: T0 + 40 })).toEqual([{ code: 'new' }]);
  });
});

describe('when a request is dead-lettered', () => {
  it('is never compacted: its params and history stay for the retry', async () => {
    await s.claimed('sub1', [item('d')]);
    await s.store.outcomes.apply([dead('d', 'sub1')], T0 + 10);
    expect(await s.store.outcomes.delivered('J1', ['d'])).toEqual([false]);
    expect(await s.redis.exists(s.keys.params('d'))).toBe(1);
    expect(await s.field('d', 'hist')).not.toBeNull();
    expect(await s.store.outcomes.retryDead(['d'], T0 + 20)).toEqual([{ code: 'ok' }]);
    expect(await s.field('d', 'state')).toBe('queued');
  });
});

describe('when result jobs are added', () => {
  const payload = (cid: string) => ({ customId: cid, feature: 'classify' }) as never;

  it('a completed one is removed at once, unless an endpoint wants request.succeeded (kept a day)', async () => {
    expect(await resultsWantedByWebhooks(s.store)).toBe(false);
    await deliverResults(results, [{ id: 'res-x-1', results: [payload('a')] }]);
    expect((await results.getJob('res-x-1'))?.opts.removeOnComplete).toBe(true);

    await new WebhookEndpoints(s.store).register({
      name: 'svc',
      url: 'https://example.com/hook',
      events: ['request.succeeded'],
    });
    const keepCompleted = await resultsWantedByWebhooks(s.store);
    expect(keepCompleted).toBe(true);
    await deliverResults(results, [{ id: 'res-x-2', results: [payload('b')] }], { keepCompleted });
    expect((await results.getJob('res-x-2'))?.opts.removeOnComplete).toEqual({ age: 86_400 });
  });
});
