import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import type { ApiError } from './helpers.js';
import { collect, MODEL, raw, rawReq, req, sdk, useEmulator } from './helpers.js';

const fx = useEmulator('all');

const msgs = [{ role: 'user', content: 'hi' }];

describe('per-request params validation → errored results, not create errors', () => {
  it('turns invalid params into invalid_request_error results naming the field', async () => {
    const cases: Record<string, [Record<string, unknown>, RegExp]> = {
      'no-model': [{ max_tokens: 10, messages: msgs }, /^model: Field required/],
      'num-model': [{ model: 3, max_tokens: 10, messages: msgs }, /^model: /],
      'no-max': [{ model: MODEL, messages: msgs }, /^max_tokens: Field required/],
      'max-zero': [
        { model: MODEL, max_tokens: 0, messages: msgs },
        /^max_tokens: .*greater than or equal to 1/,
      ],
      'max-float': [{ model: MODEL, max_tokens: 1.5, messages: msgs }, /^max_tokens: .*integer/],
      'no-messages': [{ model: MODEL, max_tokens: 10 }, /^messages: Field required/],
      'empty-messages': [{ model: MODEL, max_tokens: 10, messages: [] }, /^messages: /],
      'bad-role': [
        { model: MODEL, max_tokens: 10, messages: [{ role: 'robot', content: 'x' }] },
        /messages\.0\.role/,
      ],
      'empty-text': [
        { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: '' }] },
        /non-empty/,
      ],
      stream: [{ model: MODEL, max_tokens: 10, messages: msgs, stream: true }, /^stream: /],
      temperature: [{ model: MODEL, max_tokens: 10, messages: msgs, temperature: 0.2 }, /^temperature: /],
      'top-p': [{ model: MODEL, max_tokens: 10, messages: msgs, top_p: 0.9 }, /^top_p: /],
      'top-k': [{ model: MODEL, max_tokens: 10, messages: msgs, top_k: 5 }, /^top_k: /],
      'bad-ttl': [
        {
          model: MODEL,
          max_tokens: 10,
          messages: [
            {
              role: 'user',
              content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '2h' } }],
            },
          ],
        },
        /cache_control\.ttl/,
      ],
      'five-breakpoints': [
        {
          model: MODEL,
          max_tokens: 10,
          messages: [
            {
              role: 'user',
              content: Array.from({ length: 5 }, (_, i) => ({
                type: 'text',
                text: `part ${i}`,
                cache_control: { type: 'ephemeral' },
              })),
            },
          ],
        },
        /maximum of 4 blocks with cache_control/,
      ],
    };
    const requests = [req('good'), ...Object.entries(cases).map(([id, [params]]) => rawReq(id, params))];
    const b = await fx.client.messages.batches.create({ requests });
    expect(b.processing_status).toBe('in_progress');
    const ended = await fx.client.messages.batches.retrieve(b.id);
    const n = Object.keys(cases).length;
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 1,
      errored: n,
      canceled: 0,
      expired: 0,
    });

    const lines = await collect(await fx.client.messages.batches.results(b.id));
    for (const line of lines) {
      if (line.custom_id === 'good') {
        expect(line.result.type).toBe('succeeded');
        continue;
      }
      expect(line.result.type).toBe('errored');
      if (line.result.type !== 'errored') continue;
      expect(line.result.error.type).toBe('error');
      expect(line.result.error.error.type).toBe('invalid_request_error');
      expect(line.result.error.error.message).toMatch(cases[line.custom_id]![1]);
      expect(line.result.error.request_id).toBeNull();
    }
  });
});

describe('create envelope validation', () => {
  async function createError(body: unknown) {
    const err = (await fx.client.messages.batches
      .create(body as Anthropic.Messages.BatchCreateParams)
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.type).toBe('invalid_request_error');
    return err.apiMessage ?? '';
  }

  it('rejects a bad custom_id, naming the index', async () => {
    const requests = [req('a'), req('b'), req('c'), req('has space')];
    expect(await createError({ requests })).toMatch(/^requests\.3\.custom_id: /);
    expect(await createError({ requests: [req('x'.repeat(65))] })).toMatch(/^requests\.0\.custom_id: .*64/);
    expect(await createError({ requests: [req('ok'), { params: {} }] })).toMatch(
      /^requests\.1\.custom_id: Field required/,
    );
  });

  it('rejects duplicate custom_ids, naming both indexes', async () => {
    const msg = await createError({ requests: [req('a'), req('dup'), req('b'), req('dup')] });
    expect(msg).toMatch(/requests\.3\.custom_id/);
    expect(msg).toMatch(/requests\.1\b/);
  });

  it('requires object params, and 1..100,000 requests', async () => {
    expect(await createError({ requests: [req('a'), { custom_id: 'b', params: 'nope' }] })).toMatch(
      /^requests\.1\.params: /,
    );
    expect(await createError({ requests: [req('a'), { custom_id: 'b' }] })).toMatch(
      /^requests\.1\.params: Field required/,
    );
    expect(await createError({ requests: [] })).toMatch(/^requests: .*at least 1/);
    expect(await createError({})).toMatch(/^requests: Field required/);
    const tooMany = Array.from({ length: 100_001 }, (_, i) => ({ custom_id: `r${i}`, params: {} }));
    expect(await createError({ requests: tooMany })).toMatch(/^requests: .*at most 100000/);
  });

  it('answers 413 request_too_large over the body limit, without retrying', async () => {
    const small = await startEmulator({ quiet: true, maxBodyBytes: 2000 });
    try {
      const c = sdk(small);
      const err = (await c.messages.batches
        .create({ requests: [req('big', 'x'.repeat(5000))] })
        .catch((e: unknown) => e)) as ApiError;
      expect(err).toBeInstanceOf(Anthropic.ContentTooLargeError);
      expect(err.status).toBe(413);
      expect(err.type).toBe('request_too_large');
      expect(small.inspect.createCalls()).toBe(1);
      expect(small.inspect.batches()).toHaveLength(0);
      // under the limit is fine
      expect((await c.messages.batches.create({ requests: [req('small')] })).processing_status).toBe(
        'in_progress',
      );
    } finally {
      await small.close();
    }
  });

  it('answers 400 on a body that is not JSON', async () => {
    const r = await raw(fx.emu, '/v1/messages/batches', { method: 'POST', body: '{not json' });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.any(String) },
      request_id: r.headers.get('request-id'),
    });
  });
});

describe('authentication and headers', () => {
  it('accepts x-api-key and Authorization: Bearer with any anthropic-version', async () => {
    const viaXKey = await raw(fx.emu, '/v1/messages/batches', {
      headers: { 'anthropic-version': '2023-06-01' },
    });
    expect(viaXKey.status).toBe(200);
    expect(viaXKey.headers.get('content-type')).toBe('application/json');
    expect(viaXKey.headers.get('request-id')).toMatch(/^req_/);
    const viaBearer = await fetch(`${fx.emu.url}/v1/messages/batches`, {
      headers: { authorization: 'Bearer whatever', 'anthropic-version': '2026-10-21' },
    });
    expect(viaBearer.status).toBe(200);
    await viaBearer.arrayBuffer();
  });

  it('answers 401 authentication_error without a credential', async () => {
    const res = await fetch(`${fx.emu.url}/v1/messages/batches`, {
      headers: { 'anthropic-version': '2026-10-21' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const body = (await res.json()) as { error: { type: string }; request_id: string };
    expect(body.error.type).toBe('authentication_error');
    expect(body.request_id).toBe(res.headers.get('request-id'));
  });

  it('answers 400 when anthropic-version is missing', async () => {
    const res = await fetch(`${fx.emu.url}/v1/messages/batches`, { headers: { 'x-api-key': 'k' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/anthropic-version/);
  });

  it('with apiKey set, accepts only that key (either header style)', async () => {
    const locked = await startEmulator({ quiet: true, apiKey: 'sk-right' });
    try {
      await expect(sdk(locked, { apiKey: 'sk-wrong' }).messages.batches.list()).rejects.toBeInstanceOf(
        Anthropic.AuthenticationError,
      );
      expect((await sdk(locked, { apiKey: 'sk-right' }).messages.batches.list()).data).toEqual([]);
      const viaXKey = await raw(locked, '/v1/messages/batches', { headers: { 'x-api-key': 'sk-right' } });
      expect(viaXKey.status).toBe(200);
      const wrongXKey = await raw(locked, '/v1/messages/batches', { headers: { 'x-api-key': 'nope' } });
      expect(wrongXKey.status).toBe(401);
    } finally {
      await locked.close();
    }
  });

  it('answers 404 not_found_error on unknown routes', async () => {
    const r = await raw(fx.emu, '/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe('not_found_error');
  });
});
