import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/index.js';
import { apiHarness, request, writtenKeys } from './helpers.js';

let h: Awaited<ReturnType<typeof apiHarness>>;
let api: Awaited<ReturnType<Awaited<ReturnType<typeof apiHarness>>['start']>>;
let token: string;
let scoped: string;

beforeAll(async () => {
  h = await apiHarness();
  api = await h.start({ bodyLimitBytes: 64 * 1024, maxItems: 50, rateLimitPerMinute: 1_000_000 });
  token = (await api.tokens.create({ name: 'svc' })).token;
  scoped = (await api.tokens.create({ name: 'other', features: ['other'] })).token;
});
afterAll(async () => {
  await h.stop();
});

/** A raw POST (any body, any headers, chunked when asked): what fetch would refuse to send. */
function rawPost(body: string | Buffer, headers: Record<string, string>, chunked = false) {
  const url = new URL(api.api.url);
  return new Promise<{ status: number; json: { error?: { code: string } } }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: '/v1/requests',
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 16_384) req.write(body.slice(i, i + 16_384));
    } else req.setHeader('content-length', Buffer.byteLength(body));
    req.end(chunked ? undefined : body);
  });
}

const nothingWritten = async () => expect(await writtenKeys(h.redis, api.prefix)).toEqual([]);
const json = { 'content-type': 'application/json' };

describe('hand-written hostile calls: a clear 4xx and nothing written', () => {
  it.each([
    [
      'a body over the limit',
      () => rawPost(JSON.stringify(request('x', { metadata: 'x'.repeat(70_000) })), json),
      413,
      'payload_too_large',
    ],
    [
      'a chunked body over the limit',
      () => rawPost(Buffer.alloc(200_000, 0x20), json, true),
      413,
      'payload_too_large',
    ],
    ['JSON that does not parse', () => rawPost('{"feature": "digest",', json), 400, 'invalid_json'],
    [
      'a body that is not JSON',
      () => rawPost('feature=digest', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    ],
    ['no content type', () => rawPost('{}', {}), 415, 'unsupported_media_type'],
    [
      'deep JSON in metadata',
      () =>
        rawPost(
          `{"feature":"digest","key":"k","params":{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]},"metadata":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
          json,
        ),
      400,
      'validation_failed',
    ],
    [
      'deep JSON in the params',
      () =>
        rawPost(
          `{"feature":"digest","key":"k","params":{"model":"m","max_tokens":1,"messages":[{"role":"user","content":${'['.repeat(30_000)}${']'.repeat(30_000)}}]}}`,
          json,
        ),
      400,
      'validation_failed',
    ],
    [
      'more requests than allowed',
      () =>
        rawPost(JSON.stringify({ requests: Array.from({ length: 51 }, (_, i) => request(`k${i}`)) }), json),
      413,
      'too_many_items',
    ],
    ['requests that is not a list', () => rawPost('{"requests": {"0": {}}}', json), 400, 'validation_failed'],
    [
      'a batch body with other fields',
      () => rawPost('{"requests": [], "replace": true}', json),
      400,
      'validation_failed',
    ],
    [
      'a __proto__ field',
      () => rawPost(JSON.stringify(request('p')).replace('{', '{"__proto__":{"polluted":1},'), json),
      400,
      'validation_failed',
    ],
    ['a string where an object goes', () => rawPost('"enqueue this"', json), 400, 'validation_failed'],
    [
      'a token for another feature',
      () => rawPost(JSON.stringify(request('t')), { ...json, authorization: `Bearer ${scoped}` }),
      403,
      'forbidden_scope',
    ],
    [
      'a revoked-looking token',
      () => rawPost(JSON.stringify(request('t')), { ...json, authorization: `Bearer nsk_${'A'.repeat(43)}` }),
      401,
      'unauthorized',
    ],
    [
      'a basic-auth header',
      () => rawPost(JSON.stringify(request('t')), { ...json, authorization: 'Basic dXNlcjpwYXNz' }),
      401,
      'unauthorized',
    ],
  ] as const)('refuses %s', async (_what, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.json.error?.code).toBe(code);
    await nothingWritten();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

const validItem = fc
  .record({ key: fc.string({ minLength: 1, maxLength: 20 }) })
  .map(({ key }) => request(key));
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, [], {}, '', 0, -1, 1e308, 'x'.repeat(5000), '\ud800', { __proto__: null }),
);
const taintedItem = fc
  .tuple(
    validItem,
    fc.constantFrom(
      'feature',
      'key',
      'customId',
      'params',
      'metadata',
      'partition',
      'deadline',
      'realtime',
      'notify',
      'extra',
    ),
    hostileValue,
  )
  .map(([it, field, v]) => ({ ...it, [field]: v }));
const taintedParams = fc
  .tuple(
    validItem,
    fc.constantFrom('model', 'max_tokens', 'messages', 'stream', 'temperature', 'system', 'tools'),
    hostileValue,
  )
  .map(([it, field, v]) => ({ ...it, params: { ...it.params, [field]: v } }));
const body = fc.oneof(
  hostileValue,
  taintedItem,
  taintedParams,
  fc
    .array(fc.oneof(validItem, taintedItem, taintedParams, hostileValue), { maxLength: 5 })
    .map((requests) => ({ requests })),
);

describe('property-based hostile bodies', () => {
  it('answer 202 with every request queued, or a 4xx with a stable code and nothing written', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const prefix = `${api.prefix}p${++n}`;
        const one = await h.start({ prefix, rateLimitPerMinute: 1_000_000 });
        const { token: t } = await one.tokens.create({ name: 'svc' });
        const res = await one.call('/v1/requests', { method: 'POST', token: t, json: b });
        const answer = await res.json();
        if (res.status === 202) {
          const results = 'results' in answer ? answer.results : [answer];
          expect(
            results.every((r: { outcome: string }) => r.outcome === 'queued' || r.outcome === 'exists'),
          ).toBe(true);
        } else {
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(ERROR_CODES).toContain(answer.error.code);
          expect(answer.error.message.length).toBeGreaterThan(5);
          expect(await writtenKeys(h.redis, prefix)).toEqual([]);
        }
        await one.api.close();
      }),
      { numRuns: 120 },
    );
  });

  it('answer any malformed Authorization header with 401 and write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[\x21-\x7e ]{0,80}$/), async (header) => {
        const res = await api.call('/v1/requests', {
          method: 'POST',
          headers: { authorization: header },
          json: request('a'),
        });
        expect(res.status).toBe(401);
        expect((await res.json()).error.code).toBe('unauthorized');
      }),
      { numRuns: 60 },
    );
    await nothingWritten();
  });
});
