import Anthropic from '@anthropic-ai/sdk';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import type { DeadLetterPayload } from '@nightshift/shared';
import { addDeadLetters, createRedis } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { csrfToken, getJson, item, MIN, type Seeded, seed, startBoard, T0 } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let emu: Emulator;
let client: Anthropic;
const opened: { board: Board; seeded: Seeded }[] = [];

beforeAll(async () => {
  emu = await startEmulator({ processing: 'manual', quiet: true });
  client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 0 });
});
afterAll(async () => {
  for (const o of opened) {
    await o.board.close();
    await o.seeded.deadLetters.close();
  }
  await emu.close();
});

async function open(over: Parameters<typeof startBoard>[2] = {}) {
  const prefix = uniquePrefix();
  const seeded = await seed(fx.redis, prefix);
  const board = await startBoard(fx.redis, prefix, over);
  opened.push({ board, seeded });
  const token = await csrfToken(board.url);
  const headers = {
    origin: new URL(board.url).origin,
    'sec-fetch-site': 'same-origin',
    'x-csrf-token': token,
  };
  const post = (path: string) => fetch(`${board.url}${path}`, { method: 'POST', headers });
  return { board, seeded, token, post };
}

/** Kills `cid` (queued in the seed) through a real submission, and files its dead letter. */
async function kill(s: Seeded, cid: string, sub: string) {
  await s.store.submissions.open({
    id: sub,
    partition: 'default',
    reason: 'manual',
    owner: 't',
    leaseMs: MIN,
    now: T0,
  });
  await s.store.submissions.claim('g-default', sub, 1, 1e9, T0);
  const entry = { attempt: 1, batchId: null, outcome: 'rejected' as const, at: T0 };
  await s.store.outcomes.apply(
    [{ cid, action: 'dead', guardSub: sub, reason: 'rejected', error: null, entry }],
    T0,
  );
  const payload = {
    customId: cid,
    feature: 'classify-docs',
    model: 'm',
    reason: 'rejected',
    lastError: null,
    attempts: [entry],
    batchId: null,
    params: JSON.parse(item(cid).params),
    metadata: null,
    deadAt: T0,
  } satisfies DeadLetterPayload;
  await addDeadLetters(s.deadLetters, [{ payload, deaths: 1 }]);
}

describe('retrying a dead letter', () => {
  it('queues the request again and removes its dead-letter job', async () => {
    const { seeded, post, board } = await open();
    const res = await post(`/api/dead-letters/${seeded.deadJobId}/retry`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      customId: 'c3',
      result: 'ok',
      message: 'c3 is queued again.',
    });
    expect(await seeded.store.records.status('c3')).toMatchObject({ state: 'queued', attempt: 1 });
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeUndefined();
    const o = await getJson<{ waiting: { total: number }; deadLetters: { total: number } }>(
      `${board.url}/api/overview`,
    );
    expect(o.waiting.total).toBe(5);
    expect(o.deadLetters.total).toBe(0);
    // Again: the dead letter is gone.
    expect((await post(`/api/dead-letters/${seeded.deadJobId}/retry`)).status).toBe(404);
    expect((await post('/api/dead-letters/not:an:id/retry')).status).toBe(400);
  });

  it('works as a plain form post and redirects back to the page', async () => {
    const { board, seeded, token } = await open();
    const res = await fetch(`${board.url}/api/dead-letters/${seeded.deadJobId}/retry`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'null',
        'sec-fetch-site': 'same-origin',
      },
      body: `_csrf=${encodeURIComponent(token)}`,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/?done=retried&n=1#dead-letters');
    expect((await seeded.store.records.get('c3'))?.state).toBe('queued');
  });

  it('clears a stale dead letter whose request is no longer dead', async () => {
    const { seeded, post } = await open();
    await seeded.store.outcomes.retryDead(['c3'], T0);
    const res = await post(`/api/dead-letters/${seeded.deadJobId}/retry`);
    expect(await res.json()).toMatchObject({ ok: true, result: 'not-dead:queued' });
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeUndefined();
  });
});

describe('retry all', () => {
  it('retries every dead letter and keeps those whose record is gone', async () => {
    const { seeded, post } = await open();
    await kill(seeded, 'c4', 's-c4');
    await kill(seeded, 'c5', 's-c5');
    await rawStore(seeded.store).redis.del(rawStore(seeded.store).keys.record('c5'));
    expect(await seeded.deadLetters.getWaitingCount()).toBe(3);
    const res = await post('/api/dead-letters/retry-all');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, retried: 2, skipped: 1 });
    expect((await seeded.store.records.get('c3'))?.state).toBe('queued');
    expect((await seeded.store.records.get('c4'))?.state).toBe('queued');
    const left = await seeded.deadLetters.getWaiting();
    expect(left.map((j) => j.id)).toEqual(['dead-c5-1']);
  });
});

describe('cancelling a batch', () => {
  it('asks the API to cancel and records the new status', async () => {
    const created = await client.messages.batches.create({
      requests: [
        {
          custom_id: 'c1',
          params: { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
        },
      ],
    });
    const { seeded, post, board } = await open({ client });
    await seeded.store.submissions.open({
      id: 's-live',
      partition: 'default',
      reason: 'manual',
      owner: 't',
      leaseMs: MIN,
      now: T0,
    });
    await seeded.store.submissions.claim('g-default', 's-live', 1, 1e9, T0);
    await seeded.store.submissions.commit(
      's-live',
      {
        id: created.id,
        created_at: created.created_at,
        expires_at: created.expires_at,
        processing_status: created.processing_status,
      },
      { count: 1, bytes: 120, partition: 'default', reason: 'manual' },
      T0,
    );
    const page = await (await fetch(`${board.url}/`)).text();
    expect(page).toContain(`/api/batches/${created.id}/cancel`);

    const res = await post(`/api/batches/${created.id}/cancel`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, batchId: created.id, status: 'canceling' });
    expect((await seeded.store.batches.get(created.id))?.status).toBe('canceling');
    expect(emu.inspect.batch(created.id)?.processing_status).not.toBe('in_progress');
    expect((await post('/api/batches/msgbatch_unknown/cancel')).status).toBe(404);
  });

  it('is hidden and refused without an Anthropic client', async () => {
    const { seeded, post, board } = await open();
    const page = await (await fetch(`${board.url}/`)).text();
    expect(page).not.toContain('/cancel"');
    const res = await post(`/api/batches/${seeded.batchId}/cancel`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/ANTHROPIC_API_KEY/);
  });
});
