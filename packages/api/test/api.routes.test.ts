import { Registry } from '@nightshift/telemetry';
import { claimInto } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiHarness, request } from './helpers.js';

let h: Awaited<ReturnType<typeof apiHarness>>;
beforeAll(async () => {
  h = await apiHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('POST /v1/requests', () => {
  it('enqueues one request or many, answering per item in input order', async () => {
    const { call, tokens, store } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    const one = await call('/v1/requests', { method: 'POST', token, json: request('d1') });
    expect(one.status).toBe(202);
    const r1 = await one.json();
    expect(r1).toMatchObject({
      outcome: 'queued',
      state: 'queued',
      customId: expect.stringMatching(/^digest_/),
    });
    const many = await call('/v1/requests', {
      method: 'POST',
      token,
      json: {
        requests: [request('d1'), request('d2'), request('d3', { customId: 'explicit-3', key: undefined })],
      },
    });
    expect(many.status).toBe(202);
    const { results } = await many.json();
    expect(results.map((r: { outcome: string }) => r.outcome)).toEqual(['exists', 'queued', 'queued']);
    expect(results[2].customId).toBe('explicit-3');
    expect((await store.pending.overview()).total).toBe(3);
  });

  it('refuses the whole call with the index and field of every bad item, writing nothing', async () => {
    const { call, tokens, store } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    const res = await call('/v1/requests', {
      method: 'POST',
      token,
      json: {
        requests: [request('ok'), request('bad', { params: { model: 'm', max_tokens: 0, messages: [] } })],
      },
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.issues.map((i: { index: number; field: string }) => [i.index, i.field])).toEqual([
      [1, 'params.max_tokens'],
      [1, 'params.messages'],
    ]);
    expect((await store.pending.overview()).total).toBe(0);
  });

  it('answers a conflict with 409 and a too-soon deadline with 422; replace=true replaces', async () => {
    const { call, tokens } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    await call('/v1/requests', { method: 'POST', token, json: request('c') });
    const changed = request('c', {
      params: { model: 'claude-haiku-4-5', max_tokens: 99, messages: [{ role: 'user', content: 'x' }] },
    });
    const conflict = await call('/v1/requests', { method: 'POST', token, json: changed });
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).error).toMatchObject({
      code: 'conflict',
      conflicts: [{ state: 'queued' }],
    });
    const replaced = await call('/v1/requests?replace=true', { method: 'POST', token, json: changed });
    expect((await replaced.json()).outcome).toBe('replaced');
    const soon = await call('/v1/requests', {
      method: 'POST',
      token,
      json: request('s', { deadline: Date.now() + 60_000 }),
    });
    expect(soon.status).toBe(422);
    expect((await soon.json()).error.code).toBe('deadline_too_soon');
  });

  it('answers a refusing budget with 402 budget_exceeded naming it, writing nothing', async () => {
    const { call, tokens, store } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    await store.budgets.set({ name: 'digest', period: 'month', limitUsd: 0, mode: 'refuse', alertAt: 0.8 });
    const res = await call('/v1/requests', { method: 'POST', token, json: { requests: [request('b1')] } });
    expect(res.status).toBe(402);
    const { error } = await res.json();
    expect(error).toMatchObject({ code: 'budget_exceeded', budget: 'digest/month' });
    expect(error.customIds).toHaveLength(1);
    expect((await store.pending.overview()).total).toBe(0);
  });

  it('accepts notify only with names of registered endpoints', async () => {
    const { call, tokens } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    const res = await call('/v1/requests', {
      method: 'POST',
      token,
      json: request('n', { notify: ['nobody'] }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({
      code: 'unknown_endpoint',
      issues: [{ field: 'notify[0]' }],
    });
    const url = await call('/v1/requests', {
      method: 'POST',
      token,
      json: request('n', { notify: ['http://169.254.169.254/'] }),
    });
    expect((await url.json()).error).toMatchObject({
      code: 'validation_failed',
      issues: [{ field: 'notify[0]' }],
    });
  });
});

describe('status, cancel, progress and drain marks', () => {
  it('reads a status, cancels a queued request once, refuses to cancel the rest', async () => {
    const { call, tokens, store } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    const { customId } = await (
      await call('/v1/requests', { method: 'POST', token, json: request('x') })
    ).json();
    const status = await (await call(`/v1/requests/${customId}`, { token })).json();
    expect(status).toMatchObject({ customId, state: 'queued', feature: 'digest', partition: 'default' });
    const del = await call(`/v1/requests/${customId}`, { method: 'DELETE', token });
    expect(await del.json()).toEqual({ customId, state: 'canceled', alreadyCanceled: false });
    expect(
      (await (await call(`/v1/requests/${customId}`, { method: 'DELETE', token })).json()).alreadyCanceled,
    ).toBe(true);
    expect((await (await call(`/v1/requests/${customId}`, { token })).json()).state).toBe('canceled');
    const { customId: other } = await (
      await call('/v1/requests', { method: 'POST', token, json: request('y') })
    ).json();
    await claimInto(store, (await store.pending.overview()).groups[0]!.group);
    const refused = await call(`/v1/requests/${other}`, { method: 'DELETE', token });
    expect(refused.status).toBe(409);
    expect((await refused.json()).error).toMatchObject({ code: 'not_cancelable', state: 'claimed' });
    expect((await call('/v1/requests/unknown-id', { token })).status).toBe(404);
    expect((await call('/v1/requests/bad%20id', { token })).status).toBe(400);
  });

  it('reports a feature’s progress and drains a mark', async () => {
    const { call, tokens } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    const { customId } = await (
      await call('/v1/requests', { method: 'POST', token, json: request('p') })
    ).json();
    const mark = await (await call('/v1/features/digest/drain', { method: 'POST', token })).json();
    expect(mark).toMatchObject({ markId: 'dm-0-digest', drained: false });
    expect(await (await call('/v1/features/digest/progress', { token })).json()).toMatchObject({
      open: 1,
      enqueued: 1,
      pendingMarks: [{ markId: 'dm-0-digest', remaining: 1 }],
    });
    await call(`/v1/requests/${customId}`, { method: 'DELETE', token });
    const after = await (await call(`/v1/features/digest/drain/${mark.markId}`, { token })).json();
    expect(after).toMatchObject({ drained: true, drainedAt: expect.any(String), remaining: 0 });
    expect((await call('/v1/features/digest/drain/dm-9-digest', { token })).status).toBe(404);
  });
});

describe('a delivered request (its record compacted)', () => {
  it('reads its compact status with an unscoped token; a scoped token reads 404 (no feature is kept)', async () => {
    const { call, tokens, store } = await h.start();
    const { token } = await tokens.create({ name: 'svc' });
    const { token: scoped } = await tokens.create({ name: 'digest-only', features: ['digest'] });
    const { customId } = await (
      await call('/v1/requests', { method: 'POST', token, json: request('done') })
    ).json();
    const success = {
      cid: customId,
      action: 'success' as const,
      mode: 'batch' as const,
      tokens: { input: 10, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 2 },
      costNano: 5000,
      listNano: 10_000,
      entry: { attempt: 1, batchId: 'msgbatch_x', outcome: 'succeeded' as const, at: 1 },
      batchId: 'msgbatch_x',
      delivery: 'res-msgbatch_x-a',
    };
    await store.outcomes.apply([success]);
    expect(await store.outcomes.delivered('res-msgbatch_x-a', [customId])).toEqual([true]);
    expect(await (await call(`/v1/requests/${customId}`, { token })).json()).toMatchObject({
      customId,
      state: 'succeeded',
      batchId: 'msgbatch_x',
      costUsd: 5000 / 1e9,
      compacted: true,
      feature: '',
      partition: '',
    });
    expect((await call(`/v1/requests/${customId}`, { token: scoped })).status).toBe(404);
    // Enqueueing it again is still idempotent through the API.
    const again = await (await call('/v1/requests', { method: 'POST', token, json: request('done') })).json();
    expect(again).toMatchObject({ customId, outcome: 'exists', state: 'succeeded' });
  });
});

describe('tokens, scopes and the document', () => {
  it('needs a valid token; a scoped one reaches only its features and partitions', async () => {
    const { call, tokens, store } = await h.start();
    const { token, record } = await tokens.create({
      name: 'a',
      features: ['digest'],
      partitions: ['tenant-a'],
    });
    expect((await call('/v1/features/digest/progress')).status).toBe(401);
    const bad = await call('/v1/features/digest/progress', { token: 'nsk_nope' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('Bearer');
    const wrongFeature = await call('/v1/requests', {
      method: 'POST',
      token,
      json: request('w', { feature: 'other' }),
    });
    expect(wrongFeature.status).toBe(403);
    expect((await wrongFeature.json()).error).toMatchObject({
      code: 'forbidden_scope',
      issues: [{ field: 'feature' }],
    });
    const wrongPartition = await call('/v1/requests', { method: 'POST', token, json: request('w') });
    expect(((await wrongPartition.json()) as { error: { issues: unknown[] } }).error.issues).toEqual([
      expect.objectContaining({ field: 'partition' }),
    ]);
    const ok = await call('/v1/requests', {
      method: 'POST',
      token,
      json: request('w', { partition: 'tenant-a' }),
    });
    expect(ok.status).toBe(202);
    expect((await call('/v1/features/other/progress', { token })).status).toBe(403);
    // Another service's request reads as unknown.
    await store.records.enqueue([
      {
        cid: 'theirs',
        feature: 'other',
        model: 'm',
        params: '{}',
        phash: 'h',
        meta: '',
        deadline: null,
        partition: 'x',
        group: 'g',
        bytes: 1,
        realtimeAllowed: false,
        state: 'queued',
      },
    ]);
    expect((await call('/v1/requests/theirs', { token })).status).toBe(404);
    expect((await call('/v1/requests/theirs', { method: 'DELETE', token })).status).toBe(404);
    await tokens.revoke(record.id);
    expect((await call('/v1/features/digest/progress', { token })).status).toBe(401);
  });

  it('limits calls per token per minute, across API replicas sharing Redis', async () => {
    const first = await h.start({ rateLimitPerMinute: 3 });
    const second = await h.start({ rateLimitPerMinute: 3, prefix: first.prefix });
    const { token } = await first.tokens.create({ name: 'svc' });
    const codes = [];
    for (const c of [first.call, second.call, first.call, second.call]) {
      codes.push((await c('/v1/features/digest/progress', { token })).status);
    }
    expect(codes).toEqual([200, 200, 200, 429]);
    const limited = await first.call('/v1/features/digest/progress', { token });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });

  it('serves an OpenAPI 3.1 document whose request schema is the producer’s', async () => {
    const { call } = await h.start();
    type Schema = { required: string[]; properties: Record<string, Schema> & { code?: { enum: string[] } } };
    const doc = (await (await call('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, Schema> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/requests', '/v1/requests/{customId}']),
    );
    expect(doc.components.schemas.EnqueueRequest?.required).toEqual(['feature', 'params']);
    expect(JSON.stringify(doc)).not.toContain('#/$defs/');
    expect(doc.components.schemas.Error?.properties.error?.properties.code?.enum).toContain(
      'forbidden_scope',
    );
    // The producer's bounds that a schema can say are in the document too.
    const params = doc.components.schemas.MessageParams?.properties as Record<string, unknown>;
    expect(params.max_tokens).toMatchObject({ type: 'integer', minimum: 1, maximum: 300_000 });
    expect(params.model).toMatchObject({ type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
  });

  it('refuses a retired model with model_retired, naming the replacement; nothing is written', async () => {
    const { call, tokens, store } = await h.start({ now: () => Date.parse('2026-12-02T12:00:00Z') });
    const { token } = await tokens.create({ name: 'svc' });
    const old = request('r1', {
      params: { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'x' }] },
    });
    const res = await call('/v1/requests', {
      method: 'POST',
      token,
      json: { requests: [request('r0'), old] },
    });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error).toMatchObject({
      code: 'model_retired',
      issues: [{ index: 1, field: 'params.model', message: expect.stringContaining('claude-sonnet-4-6') }],
      retired: [{ model: 'claude-sonnet-4-5', replacement: 'claude-sonnet-4-6' }],
    });
    expect((await store.pending.overview()).total).toBe(0);
  });

  it('counts calls by route template and status, and enqueued requests by outcome', async () => {
    const metrics = new Registry();
    const { call, tokens } = await h.start({ metrics });
    const { token } = await tokens.create({ name: 'svc' });
    await call('/v1/requests', { method: 'POST', token, json: { requests: [request('m1'), request('m2')] } });
    await call('/v1/requests', { method: 'POST', token, json: request('m1') });
    await call('/v1/requests/digest_nope', { token });
    await call('/v1/requests/digest_nope');
    const text = await metrics.metrics();
    expect(text).toContain(
      'nightshift_api_requests_total{method="POST",route="/v1/requests",status="202"} 2',
    );
    expect(text).toContain(
      'nightshift_api_requests_total{method="GET",route="/v1/requests/{customId}",status="404"} 1',
    );
    expect(text).toContain(
      'nightshift_api_requests_total{method="GET",route="/v1/requests/{customId}",status="401"} 1',
    );
    expect(text).toContain('nightshift_api_enqueued_total{outcome="queued"} 2');
    expect(text).toContain('nightshift_api_enqueued_total{outcome="exists"} 1');
    expect(text).toMatch(
      /nightshift_api_request_duration_seconds_count\{method="POST",route="\/v1\/requests"\} 2/,
    );
    // Never an id or a token in a label.
    expect(text).not.toContain('digest_nope');
    expect(text).not.toContain(token);
  });

  it('without tokens answers loopback callers only, and refuses a foreign Host with 421 before any route', async () => {
    const { api, call } = await h.start({ auth: 'none' });
    expect((await call('/v1/features/digest/progress')).status).toBe(200);
    const port = new URL(api.url).port;
    // A DNS-rebinding page reaches 127.0.0.1 but sends its own name as Host.
    for (const path of ['/v1/features/digest/progress', '/openapi.json', '/healthz']) {
      const refused = await rawGet(port, path, `evil.example:${port}`);
      expect(refused.status, path).toBe(421);
      expect(JSON.parse(refused.body).error.code, path).toBe('misdirected_host');
    }
    expect((await rawGet(port, '/healthz', `localhost:${port}`)).status).toBe(200);
    await expect(h.start({ auth: 'none', host: '0.0.0.0' })).rejects.toThrow(/NIGHTSHIFT_API_AUTH=tokens/);
  });

  it('with tokens checks the Host only against the names the operator lists, as the board does', async () => {
    const open = await h.start();
    const openPort = new URL(open.api.url).port;
    expect((await rawGet(openPort, '/healthz', 'api.example.com')).status).toBe(200);
    const listed = await h.start({ allowedHosts: ['api.internal', '.example.com'] });
    const port = new URL(listed.api.url).port;
    expect((await rawGet(port, '/healthz', 'api.internal')).status).toBe(200);
    expect((await rawGet(port, '/healthz', `eu.example.com:${port}`)).status).toBe(200);
    expect((await rawGet(port, '/healthz', `127.0.0.1:${port}`)).status).toBe(200);
    const refused = await rawGet(port, '/v1/requests/x', 'evil.example');
    expect(refused.status).toBe(421);
    expect(refused.body).toContain('NIGHTSHIFT_API_ALLOWED_HOSTS');
  });
});

/** A GET with the Host header a browser would send for another name (fetch cannot set Host). */
async function rawGet(port: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const { request: raw } = await import('node:http');
  return new Promise((resolve, reject) => {
    raw({ host: '127.0.0.1', port, path, headers: { host } }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d) => {
        body += d;
      });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}
