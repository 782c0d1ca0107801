import { jobIds, QUEUES } from '@nightshift/shared';
import { openQueue } from '@nightshift/store';
import { waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import type { BatcherOptions } from '../src/index.js';
import {
  batchContents,
  clock,
  enqueue,
  freshBatcher,
  makeItem,
  type StatusFault,
  useEnv,
} from './helpers.js';

const env = useEnv({ resetEach: true });

/** {@link freshBatcher} (create backoff 1 s unless `over` says otherwise) and `queued` requests for it. */
async function fresh(queued: number, over: Partial<BatcherOptions> = {}) {
  const fx = await freshBatcher(env, { createBackoffMs: 1000, ...over });
  return { ...fx, cids: await enqueue(fx.store, queued) };
}

/** The API answers batches.create with `status` (`more`: message, error code, retry-after, times). */
const createAnswers = (
  status: StatusFault['status'],
  more: Omit<StatusFault, 'endpoint' | 'kind' | 'status'> = {},
) => env.emu.control.injectFault({ endpoint: 'create', kind: 'status', status, ...more });

const created = () => env.emu.inspect.batches().length;

describe('413 request_too_large', () => {
  it('splits the submission in two and submits each half', async () => {
    const { b, store, cids } = await fresh(9);
    createAnswers(413);
    const r = await b.runFlushOnce('manual');
    expect(r.batches.map((x) => x.requestCount)).toEqual([5, 4]);
    const sent = batchContents(env, r).flat();
    expect(sent.sort()).toEqual([...cids].sort());
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('in_batch');
    expect(await store.submissions.openIds()).toEqual([]);
  });
});

describe('400 on the envelope', () => {
  it('dead-letters the request the API names and submits the rest', async () => {
    const { b, prefix, store } = await fresh(4);
    await store.records.enqueue([makeItem('bad', { rawParams: '[1,2]' })], { now: clock.now() });
    const r = await b.runFlushOnce('manual');
    expect(r.deadLettered).toBe(1);
    expect(r.batches.map((x) => x.requestCount)).toEqual([4]);
    const rec = await store.records.get('bad');
    expect(rec?.state).toBe('dead');
    expect((rec as unknown as { reason: string }).reason).toMatch(/^rejected by API: requests\.\d+\.params/);
    const dlq = openQueue('deadLetters', env.redis, prefix);
    const job = await dlq.getJob(jobIds.deadLetter('bad', 1));
    expect(job?.data).toMatchObject({ customId: 'bad', batchId: null, params: [1, 2] });
    await dlq.close();
    expect(await store.submissions.members(r.batches[0]!.submissionId)).not.toContain('bad');
  });

  it('a 400 that names no request refuses the call: nothing dead-lettered or bisected, circuit open', async () => {
    const { b, store, cids } = await fresh(30, { circuitCooldownMs: 60_000 });
    const calls = env.emu.inspect.createCalls();
    createAnswers(400, { message: 'Your workspace has reached the spend limit you set.', times: 1000 });
    const r = await b.runFlushOnce('manual');
    expect(r).toMatchObject({ stopped: 'circuit', deadLettered: 0, released: 30, batches: [] });
    expect(env.emu.inspect.createCalls()).toBe(calls + 1);
    expect(await store.circuit.state()).toMatchObject({
      open: true,
      kind: 'account',
      code: 'invalid_request_error',
      reason: '400 invalid_request_error: Your workspace has reached the spend limit you set.',
    });
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('queued');
    expect(await store.submissions.openIds()).toEqual([]);
  });
});

describe('429 rate limited', () => {
  it('releases, backs off, and submits once the backoff has passed', async () => {
    const { b, store, cids } = await fresh(3, { createBackoffMs: 5_000 });
    const before = created();
    createAnswers(429, { retryAfterSec: 1 });
    const r = await b.runFlushOnce('manual');
    expect(r.stopped).toBe('backoff');
    expect(r.released).toBe(3);
    expect(created()).toBe(before);
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('queued');
    expect((await b.runFlushOnce('tick')).skipped).toBe('backoff');
    clock.advance(5_000);
    await enqueue(store, 1, {}, 'late');
    clock.advance(3600_000);
    const again = await b.runFlushOnce('tick');
    expect(again.batches.map((x) => x.requestCount)).toEqual([4]);
  });
});

describe('ambiguous failures (5xx, timeout)', () => {
  it('adopts the batch a create-then-fail made instead of creating a duplicate', async () => {
    const { b, store, cids } = await fresh(5);
    const before = created();
    env.emu.control.injectFault({ endpoint: 'create', kind: 'create-then-fail', status: 529 });
    const r = await b.runFlushOnce('manual');
    expect(r.batches.map((x) => [x.origin, x.requestCount])).toEqual([['adopted', 5]]);
    expect(created()).toBe(before + 1);
    const batchId = r.batches[0]!.batchId;
    expect((await store.batches.get(batchId))?.origin).toBe('adopted');
    for (const cid of cids)
      expect(await store.records.status(cid)).toMatchObject({ state: 'in_batch', batchId });
  });

  it('a plain 500 leaves the submission for recovery, which releases it; then it is submitted once', async () => {
    const { b, store, cids } = await fresh(3, { createTimeoutMs: 1_000, submissionLeaseMs: 5_000 });
    const before = created();
    createAnswers(500);
    const r = await b.runFlushOnce('manual');
    expect(r.stopped).toBe('ambiguous');
    expect(await store.submissions.openIds()).toHaveLength(1);
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('submitting');
    clock.advance(2_000); // past the recheck lease and the backoff
    const again = await b.runFlushOnce('manual');
    expect(again.recovered).toEqual({ released: 3, adopted: 0 });
    expect(again.batches.map((x) => x.requestCount)).toEqual([3]);
    expect(created()).toBe(before + 1);
  });

  it('a create that times out but is accepted later is adopted by recovery, not duplicated', async () => {
    const { b, store, cids } = await fresh(4, { createTimeoutMs: 300, submissionLeaseMs: 5_000 });
    const before = created();
    env.emu.control.injectFault({ endpoint: 'create', kind: 'delay', ms: 800 });
    const r = await b.runFlushOnce('manual');
    expect(r.stopped).toBe('ambiguous');
    expect(r.batches).toEqual([]);
    await waitFor(() => created() === before + 1, { what: 'the delayed create to land' });
    clock.advance(2_000);
    const again = await b.runFlushOnce('manual');
    expect(again.recovered).toEqual({ released: 0, adopted: 1 });
    expect(created()).toBe(before + 1);
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('in_batch');
  });
});

describe('402 billing_error', () => {
  it('opens the circuit, keeps everything queued, submits nothing while open, then probes', async () => {
    const { b, store, cids } = await fresh(3, { circuitCooldownMs: 60_000 });
    const events: string[] = [];
    b.on('circuit:open', (c) => events.push(`${c.kind} ${c.code}`));
    createAnswers(402);
    const r = await b.runFlushOnce('manual');
    expect(r.stopped).toBe('circuit');
    expect(events).toEqual(['billing billing_error']);
    expect((await store.circuit.state()).open).toBe(true);
    expect((await store.alerts.list()).map((a) => a.code)).toContain('circuit-open');
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('queued');
    const calls = env.emu.inspect.createCalls();
    expect((await b.runFlushOnce('manual')).skipped).toBe('circuit');
    expect(env.emu.inspect.createCalls()).toBe(calls);
    clock.advance(60_000);
    const probe = await b.runFlushOnce('manual');
    expect(probe.batches.map((x) => x.requestCount)).toEqual([3]);
    expect((await store.circuit.state()).open).toBe(false);
  });
});

describe('429 with a spend-limit error code', () => {
  it('is a billing stop, not a rate limit: the circuit opens and nothing is created or retried', async () => {
    const { b, store, cids } = await fresh(2, { circuitCooldownMs: 60_000 });
    const calls = env.emu.inspect.createCalls();
    createAnswers(429, {
      errorCode: 'enforced_spend_limit_reached',
      message: 'Your workspace has reached its spend limit.',
    });
    const r = await b.runFlushOnce('manual');
    expect(r.stopped).toBe('circuit');
    expect(env.emu.inspect.createCalls()).toBe(calls + 1);
    expect(await store.circuit.state()).toMatchObject({
      open: true,
      kind: 'billing',
      code: 'enforced_spend_limit_reached',
      reason: expect.stringMatching(/spend limit/),
    });
    for (const cid of cids) expect((await store.records.status(cid)).state).toBe('queued');
    expect((await b.runFlushOnce('manual')).skipped).toBe('circuit');
    expect(env.emu.inspect.createCalls()).toBe(calls + 1);
  });
});

describe('the tracking job', () => {
  it('is one {batches} job per batch with the batch id and counts', async () => {
    const { b, prefix, store } = await fresh(2);
    const r = await b.runFlushOnce('manual');
    const q = openQueue('batches', env.redis, prefix);
    const job = await q.getJob(jobIds.batch(r.batches[0]!.batchId));
    expect(q.name).toBe(QUEUES.batches);
    expect(job?.data).toMatchObject({ batchId: r.batches[0]!.batchId, requestCount: 2, reason: 'manual' });
    await q.close();
    const flushes = await store.flushLog.recent(1);
    expect(flushes[0]).toMatchObject({ batchId: r.batches[0]!.batchId, requestCount: 2, reason: 'manual' });
  });
});
