import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import type { ApiError } from './helpers.js';
import { collect, req, sdk, statusFault, useEmulator } from './helpers.js';

const fx = useEmulator('each');

const retryCounts = (endpoint: string) =>
  fx.emu.inspect
    .httpLog()
    .filter((e) => e.endpoint === endpoint)
    .map((e) => [e.status, e.retryCount]);

describe('HTTP faults and SDK retries', () => {
  it('a retry-after longer than the SDK default backoff is waited out in full', async () => {
    // The SDK's own first backoff is at most 0.5 s; only a honoured header makes it wait 1.5 s.
    fx.emu.control.injectFault(statusFault('retrieve', 429, { retryAfterSec: 1.5, times: 1 }));
    const created = await fx.client.messages.batches.create({ requests: [req('slow')] });
    const t0 = Date.now();
    await fx.client.messages.batches.retrieve(created.id);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  });

  it('429 with retry-after is retried by the SDK, honouring the header', async () => {
    const fault = fx.emu.control.injectFault(statusFault('create', 429, { retryAfterSec: 0.05, times: 2 }));
    const t0 = Date.now();
    const b = await fx.client.messages.batches.create({ requests: [req('a')] });
    // 2 × 50 ms as asked
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(b.processing_status).toBe('in_progress');
    expect(fault.hits()).toBe(2);
    expect(fx.emu.inspect.createCalls()).toBe(3);
    expect(retryCounts('create')).toEqual([
      [429, 0],
      [429, 1],
      [200, 2],
    ]);
    expect(fx.emu.inspect.batches()).toHaveLength(1);
  });

  it('sends retry-after and the documented error body on 429', async () => {
    fx.emu.control.injectFault(statusFault('list', 429, { retryAfterSec: 2 }));
    const res = await fetch(`${fx.emu.url}/v1/messages/batches`, {
      headers: { 'x-api-key': 'k', 'anthropic-version': '2026-10-21' },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: expect.any(String) },
      request_id: res.headers.get('request-id'),
    });
  });

  it('a 429 with a spend-limit error code reaches the SDK as EnforcedSpendLimitReachedError', async () => {
    fx.emu.control.injectFault(
      statusFault('create', 429, { errorCode: 'enforced_spend_limit_reached', shouldRetry: false }),
    );
    const err = await fx.client.messages.batches.create({ requests: [req('a')] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.EnforcedSpendLimitReachedError);
    expect((err as { errorCode?: string }).errorCode).toBe('enforced_spend_limit_reached');
    expect(fx.emu.inspect.batches()).toHaveLength(0);
  });

  it('529 overloaded and 500 api_error are retried', async () => {
    const b = await fx.client.messages.batches.create({ requests: [req('a')] });
    fx.emu.control.injectFault(statusFault('retrieve', 529, { retryAfterSec: 0.01 }));
    fx.emu.control.injectFault(statusFault('retrieve', 500, { retryAfterSec: 0.01 }));
    expect((await fx.client.messages.batches.retrieve(b.id)).processing_status).toBe('ended');
    expect(retryCounts('retrieve')).toEqual([
      [529, 0],
      [500, 1],
      [200, 2],
    ]);
  });

  it('gives up after maxRetries with the right error class', async () => {
    fx.emu.control.injectFault(statusFault('list', 529, { retryAfterSec: 0.01, times: 3 }));
    const err = (await fx.client.messages.batches.list().catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(Anthropic.OverloadedError);
    expect(err.type).toBe('overloaded_error');
    expect(retryCounts('list')).toHaveLength(3);
  });

  it('x-should-retry: false stops the SDK from retrying a 500', async () => {
    fx.emu.control.injectFault(statusFault('create', 500, { shouldRetry: false }));
    const err = await fx.client.messages.batches.create({ requests: [req('a')] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect((err as ApiError).headers?.get('x-should-retry')).toBe('false');
    expect(fx.emu.inspect.createCalls()).toBe(1);
  });

  it('a 404 fault is a NotFoundError with requestID and is not retried; 402 is a PaymentRequiredError', async () => {
    const b = await fx.client.messages.batches.create({ requests: [req('a')] });
    fx.emu.control.injectFault(statusFault('retrieve', 404));
    const err = (await fx.client.messages.batches.retrieve(b.id).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.requestID).toMatch(/^req_/);
    expect(retryCounts('retrieve')).toEqual([[404, 0]]);
    fx.emu.control.injectFault(statusFault('create', 402));
    const billing = (await fx.client.messages.batches
      .create({ requests: [req('a')] })
      .catch((e: unknown) => e)) as ApiError;
    expect(billing).toBeInstanceOf(Anthropic.PaymentRequiredError);
    expect(billing.type).toBe('billing_error');
  });

  it('transient 404 right after create (not-found-after-create)', async () => {
    fx.emu.control.injectFault({ endpoint: 'retrieve', kind: 'not-found-after-create', forMs: 60_000 });
    const b = await fx.client.messages.batches.create({ requests: [req('a')] });
    await expect(fx.client.messages.batches.retrieve(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(fx.client.messages.batches.retrieve(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    fx.emu.clock.advance(60_000);
    expect((await fx.client.messages.batches.retrieve(b.id)).processing_status).toBe('ended');
  });

  it('transient 404 on results right after create', async () => {
    fx.emu.control.injectFault({ endpoint: 'results', kind: 'not-found-after-create', forMs: 5_000 });
    const b = await fx.client.messages.batches.create({ requests: [req('a')] });
    await fx.client.messages.batches.retrieve(b.id);
    await expect(fx.client.messages.batches.results(b.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    fx.emu.clock.advance(5_000);
    expect(await collect(await fx.client.messages.batches.results(b.id))).toHaveLength(1);
  });

  it('a dropped results stream surfaces as an error, not as a short read', async () => {
    const requests = Array.from({ length: 50 }, (_, i) => req(`d${i}`));
    const b = await fx.client.messages.batches.create({ requests });
    await fx.client.messages.batches.retrieve(b.id);
    fx.emu.control.injectFault({ endpoint: 'results', kind: 'drop-stream', afterLines: 10 });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const line of await fx.client.messages.batches.results(b.id)) seen.push(line.custom_id);
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    expect(seen.length).toBeLessThanOrEqual(10);
    // the next attempt gets everything
    expect(await collect(await fx.client.messages.batches.results(b.id))).toHaveLength(50);
  });

  it('a fault on the results GET is retried by the SDK', async () => {
    const b = await fx.client.messages.batches.create({ requests: [req('a'), req('b')] });
    await fx.client.messages.batches.retrieve(b.id);
    fx.emu.control.injectFault(statusFault('results', 503, { retryAfterSec: 0.01 }));
    expect(await collect(await fx.client.messages.batches.results(b.id))).toHaveLength(2);
    expect(retryCounts('results')).toEqual([
      [503, 0],
      [200, 1],
    ]);
  });

  it('create-then-fail: the retried create makes a duplicate batch', async () => {
    fx.emu.control.injectFault({ endpoint: 'create', kind: 'create-then-fail', status: 529 });
    const b = await fx.client.messages.batches.create({ requests: [req('a')] });
    expect(b.processing_status).toBe('in_progress');
    expect(fx.emu.inspect.createCalls()).toBe(2);
    expect(fx.emu.inspect.batches()).toHaveLength(2); // the hazard: two batches for one logical create
  });

  it('a slow create times the fx.client out, and the batch is still created', async () => {
    fx.emu.control.injectFault({ endpoint: 'create', kind: 'delay', ms: 400 });
    const c = sdk(fx.emu, { maxRetries: 0, timeout: 100 });
    await expect(c.messages.batches.create({ requests: [req('slow')] })).rejects.toBeInstanceOf(
      Anthropic.APIConnectionTimeoutError,
    );
    await new Promise((r) => setTimeout(r, 450));
    expect(fx.emu.inspect.batches()).toHaveLength(1);
  });

  it('removing and clearing faults', async () => {
    const h = fx.emu.control.injectFault(statusFault('list', 400, { times: 5 }));
    await expect(fx.client.messages.batches.list()).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    h.remove();
    await fx.client.messages.batches.list();
    fx.emu.control.injectFault(statusFault('list', 400, { times: 5 }));
    fx.emu.control.clearFaults();
    await fx.client.messages.batches.list();
    expect(h.hits()).toBe(1);
  });
});

describe('injected outcomes', () => {
  it('forces errored / expired / canceled outcomes by match, rate and times', async () => {
    const overloaded = fx.emu.control.injectOutcome({
      match: /^err-/,
      outcome: 'errored',
      errorType: 'overloaded_error',
      message: 'Overloaded',
    });
    fx.emu.control.injectOutcome({ match: (id) => id === 'exp-1', outcome: 'expired' });
    const once = fx.emu.control.injectOutcome({ match: /^can-/, outcome: 'canceled', times: 1 });
    const requests = [req('err-1'), req('err-2'), req('exp-1'), req('can-1'), req('can-2'), req('ok-1')];
    const b = await fx.client.messages.batches.create({ requests });
    const ended = await fx.client.messages.batches.retrieve(b.id);
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 2,
      errored: 2,
      canceled: 1,
      expired: 1,
    });
    expect(overloaded.hits()).toBe(2);
    expect(once.hits()).toBe(1);
    const lines = await collect(await fx.client.messages.batches.results(b.id));
    const err = lines.find((l) => l.custom_id === 'err-1')!.result;
    expect(err.type).toBe('errored');
    if (err.type === 'errored') {
      expect(err.error.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
      expect(err.error.request_id).toMatch(/^req_/);
    }
    expect(lines.find((l) => l.custom_id === 'exp-1')!.result).toEqual({ type: 'expired' });
  });

  it('an errored line can carry error.details.error_code, as a coded refusal does', async () => {
    fx.emu.control.injectOutcome({
      match: /^held$/,
      outcome: 'errored',
      errorType: 'invalid_request_error',
      errorCode: 'organization_on_hold',
      message: 'disabled',
    });
    const b = await fx.client.messages.batches.create({ requests: [req('held')] });
    await fx.client.messages.batches.retrieve(b.id);
    const [line] = await collect(await fx.client.messages.batches.results(b.id));
    expect(line!.result).toMatchObject({
      type: 'errored',
      error: {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: 'disabled',
          details: { error_code: 'organization_on_hold' },
        },
      },
    });
  });

  it('answers any coded refusal on every endpoint as the SDK class of its status and code', async () => {
    const cases = [
      ['create', 400, 'workspace_human_review_disabled', Anthropic.WorkspaceHumanReviewDisabledError],
      ['retrieve', 403, 'sandbox_egress_restricted', Anthropic.SandboxEgressRestrictedError],
      [
        'results',
        402,
        'linked_organization_spend_limit_reached',
        Anthropic.LinkedOrganizationSpendLimitReachedError,
      ],
      ['messages', 503, 'cmek_context_unavailable', Anthropic.CMEKContextUnavailableError],
    ] as const;
    const b = await fx.client.messages.batches.create({ requests: [req('x')] });
    await fx.client.messages.batches.retrieve(b.id);
    const call = {
      create: () => fx.client.messages.batches.create({ requests: [req('y')] }, { maxRetries: 0 }),
      retrieve: () => fx.client.messages.batches.retrieve(b.id, {}, { maxRetries: 0 }),
      results: () => fx.client.messages.batches.results(b.id, {}, { maxRetries: 0 }),
      messages: () => fx.client.messages.create(req('m').params, { maxRetries: 0 }),
    };
    for (const [endpoint, status, errorCode, cls] of cases) {
      fx.emu.control.injectFault(statusFault(endpoint, status, { errorCode, times: 1 }));
      const err = await call[endpoint]().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, endpoint).toBeInstanceOf(cls);
      expect((err as InstanceType<typeof Anthropic.APIError>).errorCode).toBe(errorCode);
    }
  });

  it('rate is deterministic per custom_id and gives a resubmission a fresh draw', async () => {
    const run = async () => {
      const e = await startEmulator({ quiet: true });
      try {
        e.control.injectOutcome({ rate: 0.3, outcome: 'errored', errorType: 'api_error' });
        const c = sdk(e);
        const requests = Array.from({ length: 200 }, (_, i) => req(`r${i}`));
        const firstRound = await c.messages.batches.create({ requests });
        await c.messages.batches.retrieve(firstRound.id);
        const errored = (await collect(await c.messages.batches.results(firstRound.id)))
          .filter((l) => l.result.type === 'errored')
          .map((l) => l.custom_id)
          .sort();
        const retry = await c.messages.batches.create({ requests: errored.map((id) => req(id)) });
        const retried = await c.messages.batches.retrieve(retry.id);
        return { errored, retriedCounts: retried.request_counts };
      } finally {
        await e.close();
      }
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a.errored.length).toBeGreaterThan(30);
    expect(a.errored.length).toBeLessThan(90);
    expect(a.retriedCounts.succeeded).toBeGreaterThan(0); // not stuck failing forever
  });
});
