import { DEFAULT_PRICES } from '@nightshift/shared';
import { buildSuccess, createRedis, Store } from '@nightshift/store';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, type Producer } from '../src/index.js';
import { docRequest, fakeMessage } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let store: Store;
let producer: Producer;

beforeAll(async () => {
  const prefix = uniquePrefix();
  store = new Store(fx.redis, prefix);
  producer = createProducer({ connection: fx.redis, prefix });
});
afterAll(async () => {
  await producer.close();
});

const batch = (id: string, t: number) => ({
  id,
  created_at: new Date(t).toISOString(),
  expires_at: new Date(t + 86_400_000).toISOString(),
  processing_status: 'in_progress',
});

/** The history entry of a first attempt whose result line in `batchId` errored with `error`. */
const firstAttemptErrored = (batchId: string, error: { type: string }, at: number) => ({
  attempt: 1,
  batchId,
  outcome: 'errored' as const,
  errorType: error.type,
  at,
});

/** Drives the store the way the batcher does: open a submission, claim the group, commit a batch. */
async function submit(group: string, sub: string, batchId: string | null, now: number) {
  await store.submissions.open({
    id: sub,
    partition: 'default',
    reason: 'manual',
    owner: 'test',
    leaseMs: 60_000,
    now,
  });
  const claimed = await store.submissions.claim(group, sub, 100, 1e9, now);
  if (batchId) {
    await store.submissions.commit(sub, batch(batchId, now), {
      count: claimed.items.length,
      bytes: claimed.bytes,
      partition: 'default',
      reason: 'manual',
    });
  }
  return claimed.items.map(([cid]) => cid);
}

describe('getStatus follows a request through its life', () => {
  it('queued → submitting → in_batch → retrying → in_batch → succeeded', async () => {
    const { customId } = await producer.enqueue(docRequest('life'));
    const t = Date.now() + 1000; // later than the record's ready-at, even if the clock steps a little
    const { group } = (await store.records.get(customId))!;
    expect(await producer.getStatus(customId)).toMatchObject({ state: 'queued', attempt: 1, history: [] });

    expect(await submit(group, 'sub-1', null, t)).toEqual([customId]);
    expect(await producer.getStatus(customId)).toMatchObject({ state: 'submitting' });

    await store.submissions.commit('sub-1', batch('msgbatch_1', t), {
      count: 1,
      bytes: 1,
      partition: 'default',
      reason: 'manual',
    });
    expect(await producer.getStatus(customId)).toMatchObject({
      state: 'in_batch',
      batchId: 'msgbatch_1',
      batchStatus: 'in_progress',
    });

    const readyAt = t + 60_000;
    const error = { type: 'overloaded_error', message: 'Overloaded' };
    const entry = firstAttemptErrored('msgbatch_1', error, t);
    expect(
      await store.outcomes.apply(
        [{ cid: customId, action: 'requeue', guardSub: 'sub-1', readyAt, error, entry, countsAttempt: true }],
        t,
      ),
    ).toEqual([{ code: 'ok' }]);
    expect(await producer.getStatus(customId)).toMatchObject({
      state: 'retrying',
      attempt: 2,
      readyAt,
      lastError: error,
      history: [entry],
    });

    expect(await submit(group, 'sub-2', 'msgbatch_2', readyAt)).toEqual([customId]);
    expect(await producer.getStatus(customId)).toMatchObject({
      state: 'in_batch',
      batchId: 'msgbatch_2',
      attempt: 2,
    });

    const { item } = buildSuccess({
      customId,
      feature: 'classify-docs',
      metadata: null,
      model: 'claude-haiku-4-5',
      message: fakeMessage('invoice'),
      mode: 'batch',
      batchId: 'msgbatch_2',
      attempt: 2,
      prices: DEFAULT_PRICES,
      now: readyAt + 1000,
    });
    await store.outcomes.apply([item], readyAt + 1000);
    expect(await producer.getStatus(customId)).toMatchObject({
      state: 'succeeded',
      batchId: 'msgbatch_2',
      completedAt: readyAt + 1000,
    });
    // Done is done: the same request again is a no-op.
    expect((await producer.enqueue(docRequest('life'))).outcome).toBe('exists');

    // Its result handed over, the record is compacted: getStatus says what it keeps.
    expect(await store.outcomes.delivered(item.delivery, [customId])).toEqual([true]);
    expect(await producer.getStatus(customId)).toEqual({
      customId,
      state: 'succeeded',
      feature: '',
      model: '',
      attempt: 2,
      enqueuedAt: 0,
      history: [{ attempt: 2, batchId: 'msgbatch_2', outcome: 'succeeded', at: readyAt + 1000 }],
      completedAt: readyAt + 1000,
      batchId: 'msgbatch_2',
      costUsd: item.costNano / 1e9,
      compacted: true,
    });
    // Idempotency holds on the compacted record: same params exist, other params conflict.
    expect((await producer.enqueue(docRequest('life'))).outcome).toBe('exists');
    expect(await producer.enqueueMany([docRequest('life')])).toEqual([
      { customId, outcome: 'exists', state: 'succeeded' },
    ]);
    await expect(
      producer.enqueue(docRequest('life', { params: { ...docRequest(0).params, system: 'Other' } })),
    ).rejects.toMatchObject({ conflicts: [{ customId, state: 'succeeded' }] });
  });

  it('dead, with the reason and the last error', async () => {
    const { customId } = await producer.enqueue(
      docRequest('doomed', { params: { ...docRequest(0).params, system: 'Doomed' } }),
    );
    const t = Date.now() + 1000; // later than the record's ready-at
    const { group } = (await store.records.get(customId))!;
    expect(await submit(group, 'sub-3', 'msgbatch_3', t)).toEqual([customId]);
    const error = { type: 'invalid_request_error', message: 'max_tokens too large' };
    const entry = firstAttemptErrored('msgbatch_3', error, t);
    await store.outcomes.apply(
      [{ cid: customId, action: 'dead', guardSub: 'sub-3', reason: 'invalid_request_error', error, entry }],
      t,
    );
    expect(await producer.getStatus(customId)).toMatchObject({
      state: 'dead',
      reason: 'invalid_request_error',
      lastError: error,
      history: [entry],
    });
    const many = await producer.enqueueMany([
      docRequest('doomed', { params: { ...docRequest(0).params, system: 'Doomed' } }),
    ]);
    expect(many).toEqual([{ customId, outcome: 'exists', state: 'dead' }]);
  });
});
