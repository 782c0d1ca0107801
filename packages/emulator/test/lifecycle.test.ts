import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import type { ApiError } from './helpers.js';
import { collect, expectBatchShape, expectMessageShape, raw, req, sdk, useEmulator } from './helpers.js';

const fx = useEmulator('all');

describe('batch lifecycle with the real SDK', () => {
  it('create → retrieve → results: shapes, counts, complete and out-of-order results', async () => {
    const requests = Array.from({ length: 12 }, (_, i) => req(`job-${i}`));
    const created = await fx.client.messages.batches.create({ requests });
    expectBatchShape(created, 'in_progress', { total: 12, url: fx.emu.url });
    expect(created._request_id).toMatch(/^req_\w+$/);

    const ended = await fx.client.messages.batches.retrieve(created.id);
    expectBatchShape(ended, 'ended', { total: 12, url: fx.emu.url });
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 12,
      errored: 0,
      canceled: 0,
      expired: 0,
    });
    expect(ended.created_at).toBe(created.created_at);
    expect(Date.parse(ended.ended_at!)).toBeGreaterThanOrEqual(Date.parse(created.created_at));

    const lines = await collect(await fx.client.messages.batches.results(created.id));
    expect(lines).toHaveLength(12);
    const ids = lines.map((l) => l.custom_id);
    expect(new Set(ids)).toEqual(new Set(requests.map((r) => r.custom_id)));
    expect(ids).not.toEqual(requests.map((r) => r.custom_id)); // not in submission order
    for (const line of lines) {
      expect(line.result.type).toBe('succeeded');
      if (line.result.type === 'succeeded') expectMessageShape(line.result.message);
    }
  });

  it('serves results as compact JSONL with a trailing newline and the right headers', async () => {
    const b = await fx.client.messages.batches.create({ requests: [req('a'), req('b'), req('c')] });
    const ended = await fx.client.messages.batches.retrieve(b.id);
    const res = await fetch(ended.results_url!, {
      headers: { authorization: 'Bearer test-key', 'anthropic-version': '2026-10-21' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-jsonl');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    const rows = text.slice(0, -1).split('\n');
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).not.toBe('');
      expect(JSON.stringify(JSON.parse(row))).toBe(row); // compact
    }
  });

  it('is deterministic: the same request gives the same message id and text', async () => {
    const requests = [req('same-1', 'What is two plus two?'), req('same-2', 'Name a colour.')];
    const texts = async () => {
      const b = await fx.client.messages.batches.create({ requests });
      await fx.client.messages.batches.retrieve(b.id);
      const lines = await collect(await fx.client.messages.batches.results(b.id));
      return Object.fromEntries(
        lines.map((l) => [
          l.custom_id,
          l.result.type === 'succeeded' ? [l.result.message.id, l.result.message.content] : null,
        ]),
      );
    };
    const first = await texts();
    expect(await texts()).toEqual(first);
    expect(first['same-1']).not.toEqual(first['same-2']);
  });

  it('lists newest first and auto-paginates with after_id, and pages backwards with before_id', async () => {
    const own = await startEmulator({ quiet: true });
    try {
      const c = sdk(own);
      const ids: string[] = [];
      for (let i = 0; i < 25; i++)
        ids.push((await c.messages.batches.create({ requests: [req(`p${i}`)] })).id);
      const newestFirst = [...ids].reverse();

      const seen: string[] = [];
      for await (const b of c.messages.batches.list({ limit: 10 })) seen.push(b.id);
      expect(seen).toEqual(newestFirst);
      const listCalls = own.inspect.httpLog().filter((e) => e.endpoint === 'list');
      expect(listCalls).toHaveLength(3);

      const page = await c.messages.batches.list({ limit: 10 });
      expect(page.data.map((b) => b.id)).toEqual(newestFirst.slice(0, 10));
      expect(page.has_more).toBe(true);
      expect(page.first_id).toBe(newestFirst[0]);
      expect(page.last_id).toBe(newestFirst[9]);
      const last = await c.messages.batches.list({ limit: 10, after_id: newestFirst[19] });
      expect(last.data.map((b) => b.id)).toEqual(newestFirst.slice(20));
      expect(last.has_more).toBe(false);
      const all = await c.messages.batches.list();
      expect(all.data).toHaveLength(20); // default limit

      // before_id: the page immediately newer than the cursor; the SDK continues with before_id=first_id.
      const oldest = ids[0]!;
      const back = await c.messages.batches.list({ before_id: oldest, limit: 10 });
      expect(back.data.map((b) => b.id)).toEqual(ids.slice(1, 11).reverse());
      expect(back.has_more).toBe(true);
      const pages: string[][] = [];
      for await (const p of back.iterPages()) pages.push(p.data.map((b) => b.id));
      expect(pages).toEqual([
        ids.slice(1, 11).reverse(),
        ids.slice(11, 21).reverse(),
        ids.slice(21).reverse(),
      ]);

      const empty = await c.messages.batches.list({ before_id: ids[24] });
      expect(empty.data).toEqual([]);
      expect(empty.first_id).toBeNull();
      expect(empty.last_id).toBeNull();
      expect(empty.has_more).toBe(false);

      await expect(c.messages.batches.list({ limit: 0 })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
      await expect(c.messages.batches.list({ limit: 1001 })).rejects.toBeInstanceOf(
        Anthropic.BadRequestError,
      );
      const max = await c.messages.batches.list({ limit: 1000 });
      expect(max.data).toHaveLength(25);
    } finally {
      await own.close();
    }
  });

  it('cancel → canceling → ended with partial results; then delete', async () => {
    const own = await startEmulator({ quiet: true, processing: 'manual' });
    try {
      const c = sdk(own);
      const b = await c.messages.batches.create({
        requests: Array.from({ length: 5 }, (_, i) => req(`c${i}`)),
      });
      expect((await c.messages.batches.retrieve(b.id)).processing_status).toBe('in_progress'); // manual
      own.control.process(b.id, 2);

      // results before the end: the SDK refuses fx.client-side, the endpoint answers 400.
      await expect(c.messages.batches.results(b.id)).rejects.toThrow(/No batch `results_url`/);
      const early = await raw(own, `/v1/messages/batches/${b.id}/results`);
      expect(early.status).toBe(400);
      expect(early.json.error.type).toBe('invalid_request_error');
      // delete before the end → 400
      await expect(c.messages.batches.delete(b.id)).rejects.toBeInstanceOf(Anthropic.BadRequestError);

      const canceling = await c.messages.batches.cancel(b.id);
      expectBatchShape(canceling, 'canceling', { total: 5, url: own.url, canceled: true });
      // a repeated cancel while canceling is harmless
      expect((await c.messages.batches.cancel(b.id)).processing_status).toBe('canceling');

      const ended = await c.messages.batches.retrieve(b.id);
      expectBatchShape(ended, 'ended', { total: 5, url: own.url, canceled: true });
      expect(ended.request_counts).toEqual({
        processing: 0,
        succeeded: 2,
        errored: 0,
        canceled: 3,
        expired: 0,
      });

      const lines = await collect(await c.messages.batches.results(b.id));
      const byId = Object.fromEntries(lines.map((l) => [l.custom_id, l.result.type]));
      expect(byId).toEqual({
        c0: 'succeeded',
        c1: 'succeeded',
        c2: 'canceled',
        c3: 'canceled',
        c4: 'canceled',
      });
      expect(lines.find((l) => l.custom_id === 'c3')!.result).toEqual({ type: 'canceled' });

      const err = await c.messages.batches.cancel(b.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as ApiError).type).toBe('invalid_request_error');

      const deleted = await c.messages.batches.delete(b.id);
      expect(deleted).toMatchObject({ id: b.id, type: 'message_batch_deleted' });
      await expect(c.messages.batches.retrieve(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
      await expect(c.messages.batches.delete(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
      expect((await c.messages.batches.list()).data.map((x) => x.id)).not.toContain(b.id);
      expect(own.inspect.batch(b.id)?.deleted).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('an unknown id is a NotFoundError with a request id', async () => {
    const err = (await fx.client.messages.batches
      .retrieve('msgbatch_01AAAAAAAAAAAAAAAAAAAAAAAA')
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.status).toBe(404);
    expect(err.type).toBe('not_found_error');
    expect(err.requestID).toMatch(/^req_/);
    expect((err.error as { request_id: string }).request_id).toBe(err.requestID);
    await expect(fx.client.messages.batches.cancel('msgbatch_nope')).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
  });

  it('inspect shows requests, params and counters', async () => {
    const b = await fx.client.messages.batches.create({ requests: [req('i1', 'hello there')] });
    const before = fx.emu.inspect.requests(b.id);
    expect(before).toEqual([
      { custom_id: 'i1', params: expect.objectContaining({ max_tokens: 64 }), outcome: 'pending' },
    ]);
    await fx.client.messages.batches.retrieve(b.id);
    expect(fx.emu.inspect.requests(b.id)[0]!.outcome).toBe('succeeded');
    const stats = fx.emu.inspect.stats();
    expect(stats.batchesCreated).toBeGreaterThan(0);
    expect(stats.createCalls).toBe(fx.emu.inspect.createCalls());
    expect(stats.batchTokens.output).toBeGreaterThan(0);
  });
});
