import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { Batcher, BatcherOptions } from '../src/index.js';
import { clock, enqueue, freshBatcher, type StatusFault, type storeFor, useEnv } from './helpers.js';

// Every refusal family of batches.create, end to end: the emulator answers as the API would, the
// real SDK turns the answer into its own class, the batcher decides. For each: what happened to
// every request, the circuit and its one alert, creates per tick while refused, and service
// resuming once the emulator stops refusing.

const env = useEnv({ resetEach: true });
const COOLDOWN = 60_000;
const TICK = 10_000;

const fresh = (over: Partial<BatcherOptions> = {}) =>
  freshBatcher(env, {
    createBackoffMs: 1000,
    circuitCooldownMs: COOLDOWN,
    circuitMaxCooldownMs: 4 * COOLDOWN,
    maxWaitMs: 1,
    ...over,
  });
const refuse = (f: Omit<StatusFault, 'endpoint' | 'kind'>) =>
  env.emu.control.injectFault({ endpoint: 'create', kind: 'status', times: 1000, ...f });

/** The SDK class the emulator's answer becomes, by one direct create. */
async function sdkErrorOf(f: Omit<StatusFault, 'endpoint' | 'kind'>): Promise<unknown> {
  const h = env.emu.control.injectFault({ endpoint: 'create', kind: 'status', ...f, times: 1 });
  const params = {
    model: 'claude-haiku-4-5',
    max_tokens: 5,
    messages: [{ role: 'user' as const, content: 'x' }],
  };
  const err = await env.client.messages.batches.create({ requests: [{ custom_id: 'probe', params }] }).then(
    () => null,
    (e: unknown) => e,
  );
  h.remove();
  return err;
}

/** Runs `n` scheduler ticks, TICK apart; answers the creates the emulator saw meanwhile. */
async function ticks(b: Batcher, n: number): Promise<number> {
  const before = env.emu.inspect.createCalls();
  for (let i = 0; i < n; i++) {
    clock.advance(TICK);
    await b.runFlushOnce('tick');
  }
  return env.emu.inspect.createCalls() - before;
}

async function states(store: ReturnType<typeof storeFor>, cids: string[]) {
  const out: Record<string, number> = {};
  for (const cid of cids) {
    const s = (await store.records.status(cid)).state;
    out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

describe.each([
  {
    name: '400 organization_on_hold',
    fault: {
      status: 400,
      errorCode: 'organization_on_hold',
      message: 'This organization has been disabled.',
    },
    cls: Anthropic.OrganizationOnHoldError,
    fix: /trust and safety/,
  },
  {
    name: '400 workspace_human_review_disabled',
    fault: { status: 400, errorCode: 'workspace_human_review_disabled', message: 'Human Review is off.' },
    cls: Anthropic.WorkspaceHumanReviewDisabledError,
    fix: /Human Review/,
  },
  {
    name: '403 with a code the SDK does not know',
    fault: { status: 403, errorCode: 'brand_new_refusal', message: 'Not allowed.' },
    cls: Anthropic.PermissionDeniedError,
    fix: /brand_new_refusal/,
  },
] as const)('an account refusal: $name', ({ fault, cls, fix }) => {
  it('opens the account circuit and dead-letters nothing; one create per cooldown; a probe resumes', async () => {
    const err = await sdkErrorOf(fault);
    expect(err).toBeInstanceOf(cls);
    expect((err as InstanceType<typeof Anthropic.APIError>).errorCode).toBe(fault.errorCode);

    const { b, store } = await fresh();
    const cids = await enqueue(store, 40);
    const events: string[] = [];
    b.on('circuit:open', (c) => events.push(`${c.kind}:${c.code}`));
    refuse(fault);
    // Two cooldowns of ticks: the first refusal, then one probe per cooldown.
    expect(await ticks(b, (2 * COOLDOWN) / TICK)).toBe(2);
    expect(events).toEqual([`account:${fault.errorCode}`, `account:${fault.errorCode}`]);
    expect(await states(store, cids)).toEqual({ queued: 40 });
    expect(await store.submissions.openIds()).toEqual([]);
    const circuit = await store.circuit.state();
    expect(circuit).toMatchObject({ open: true, kind: 'account', code: fault.errorCode, opens: 2 });
    expect(circuit.open && circuit.reason).toContain(fault.message);
    expect(circuit.open && circuit.fix).toMatch(fix);
    const alerts = await store.alerts.list();
    expect(alerts.map((a) => a.code)).toEqual(['circuit-open']);
    expect(alerts[0]!.message).toContain(fault.errorCode);
    expect(alerts[0]!.message).toMatch(fix);

    env.emu.control.clearFaults();
    expect(await ticks(b, COOLDOWN / TICK)).toBe(1);
    expect(await states(store, cids)).toEqual({ in_batch: 40 });
    expect((await store.circuit.state()).open).toBe(false);
    expect(await store.alerts.list()).toEqual([]);
  });
});

describe('a 400 that names no request', () => {
  it('is a refusal of the call: the API’s message is the reason, nothing is bisected or dead-lettered', async () => {
    const message = 'Your workspace has reached the spend limit you set.';
    const err = await sdkErrorOf({ status: 400, message });
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const { b, store } = await fresh();
    const cids = await enqueue(store, 64);
    refuse({ status: 400, message });
    expect(await ticks(b, 3)).toBe(1);
    expect(await states(store, cids)).toEqual({ queued: 64 });
    expect(await store.circuit.state()).toMatchObject({
      open: true,
      kind: 'account',
      code: 'invalid_request_error',
      reason: `400 invalid_request_error: ${message}`,
    });
    // Closed by hand (what `nightshift circuit close` runs) once the limit is raised.
    env.emu.control.clearFaults();
    expect(await store.circuit.close()).toBe(true);
    expect(await ticks(b, 1)).toBe(1);
    expect(await states(store, cids)).toEqual({ in_batch: 64 });
  });
});

describe('a billing or spend limit', () => {
  it('opens the billing circuit; each refused probe doubles the wait, up to the maximum', async () => {
    const fault = {
      status: 429,
      errorCode: 'enforced_spend_limit_reached',
      message: 'Monthly cap reached.',
    } as const;
    expect(await sdkErrorOf(fault)).toBeInstanceOf(Anthropic.EnforcedSpendLimitReachedError);
    const { b, store } = await fresh();
    const cids = await enqueue(store, 5);
    refuse(fault);
    const until: number[] = [];
    const t0 = clock.now();
    b.on('circuit:open', (c) => until.push(Math.round((c.until - t0) / 1000)));
    // Refusals at ~0, 60 s, 180 s (60 + 120), 420 s (180 + 240, the cap), then 660 s.
    const calls = await ticks(b, 700_000 / TICK);
    expect(calls).toBe(5);
    const waits = until.map((u, i) => u - (i === 0 ? 0 : until[i - 1]!));
    expect(waits.slice(1)).toEqual([120, 240, 240, 240]);
    expect(await store.circuit.state()).toMatchObject({
      kind: 'billing',
      code: 'enforced_spend_limit_reached',
      opens: 5,
    });
    expect(await states(store, cids)).toEqual({ queued: 5 });
    env.emu.control.clearFaults();
    expect(await ticks(b, 240_000 / TICK)).toBe(1);
    expect(await states(store, cids)).toEqual({ in_batch: 5 });
    expect((await store.circuit.state()).open).toBe(false);
  });

  it('402 linked_organization_billing_unavailable names the limit too', async () => {
    const fault = { status: 402, errorCode: 'linked_organization_billing_unavailable' } as const;
    expect(await sdkErrorOf(fault)).toBeInstanceOf(Anthropic.LinkedOrganizationBillingUnavailableError);
    const { b, store } = await fresh();
    await enqueue(store, 2);
    refuse(fault);
    await ticks(b, 1);
    const c = await store.circuit.state();
    expect(c).toMatchObject({ open: true, kind: 'billing', code: 'linked_organization_billing_unavailable' });
    expect(c.open && c.fix).toMatch(/linked to the user profile/);
  });
});

describe('a rate or ramp limit', () => {
  it('429 ramp_limit_exceeded backs off by retry-after and never opens a circuit', async () => {
    const fault = { status: 429, errorCode: 'ramp_limit_exceeded', retryAfterSec: 25 } as const;
    expect(await sdkErrorOf(fault)).toBeInstanceOf(Anthropic.RampLimitExceededError);
    const { b, store } = await fresh();
    const cids = await enqueue(store, 3);
    refuse({ ...fault, times: 1 });
    // Refused at the first tick; the next two (20 s) wait for retry-after (25 s); the third submits.
    expect(await ticks(b, 2)).toBe(1);
    expect(await states(store, cids)).toEqual({ queued: 3 });
    expect((await store.circuit.state()).open).toBe(false);
    expect(await ticks(b, 2)).toBe(1);
    expect(await states(store, cids)).toEqual({ in_batch: 3 });
    expect(await store.alerts.list()).toEqual([]);
  });
});

describe('a temporary refusal (503 with a cmek_* code)', () => {
  it('was refused before anything was created: released and retried with backoff, never reconciled', async () => {
    const fault = { status: 503, errorCode: 'cmek_key_unreachable', shouldRetry: false } as const;
    expect(await sdkErrorOf(fault)).toBeInstanceOf(Anthropic.CMEKKeyUnreachableError);
    const { b, store } = await fresh({ createBackoffMs: 15_000 });
    const cids = await enqueue(store, 3);
    const lists = env.emu.inspect.stats().calls.list;
    refuse({ ...fault, times: 1 });
    expect(await ticks(b, 1)).toBe(1);
    expect(env.emu.inspect.stats().calls.list).toBe(lists);
    expect(await store.submissions.openIds()).toEqual([]);
    expect(await states(store, cids)).toEqual({ queued: 3 });
    expect(await ticks(b, 2)).toBe(1);
    expect(await states(store, cids)).toEqual({ in_batch: 3 });
    expect((await store.circuit.state()).open).toBe(false);
  });

  it('a plain 503 stays ambiguous and is reconciled through batches.list', async () => {
    const { b, store } = await fresh();
    await enqueue(store, 2);
    const lists = env.emu.inspect.stats().calls.list;
    refuse({ status: 503, times: 1 });
    await ticks(b, 1);
    expect(env.emu.inspect.stats().calls.list).toBeGreaterThan(lists);
  });
});

describe('too large after decoding', () => {
  it('413 request_body_too_large_after_decoding splits, as any 413', async () => {
    const fault = { status: 413, errorCode: 'request_body_too_large_after_decoding' } as const;
    expect(await sdkErrorOf(fault)).toBeInstanceOf(Anthropic.RequestBodyTooLargeAfterDecodingError);
    const { b, store } = await fresh();
    const cids = await enqueue(store, 6);
    refuse({ ...fault, times: 1 });
    clock.advance(TICK);
    const r = await b.runFlushOnce('tick');
    expect(r.batches.map((x) => x.requestCount)).toEqual([3, 3]);
    expect(await states(store, cids)).toEqual({ in_batch: 6 });
  });
});
