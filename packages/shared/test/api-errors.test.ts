import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { declaredOnOurCalls, renderErrorTables, sdkCodes } from '../../../scripts/error-table.js';
import {
  type ApiErrorFamily,
  CODE_DECISIONS,
  CODES_NOT_ON_OUR_ENDPOINTS,
  circuitFor,
  classifyApiError,
  classifyResultError,
  defaultFamily,
  realtimeAction,
} from '../src/index.js';

const headers = (h: Record<string, string> = {}) => new Headers({ 'request-id': 'req_1', ...h });
const body = (type: string, message: string, errorCode?: string) => ({
  type: 'error',
  error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
});
/** The error the SDK builds from a response of `status` with this error body (its status class). */
const apiError = (status: number, type: string, message: string, errorCode?: string) =>
  Anthropic.APIError.generate(status, body(type, message, errorCode), undefined, headers());
/** The coded class the client picks for a response that carries `errorCode`. */
const codedError = <S extends number>(
  cls: new (
    status: S,
    error: object,
    message: undefined,
    headers: Headers,
  ) => InstanceType<typeof Anthropic.APIError>,
  status: S,
  type: string,
  errorCode: string,
  message = 'x',
) => new cls(status, body(type, message, errorCode), undefined, headers());

describe('every error code the pinned SDK declares', () => {
  const sdk = sdkCodes();

  it('has a decision: its own, or listed as an endpoint we never call (status default)', () => {
    const ours = new Set([...Object.keys(CODE_DECISIONS), ...CODES_NOT_ON_OUR_ENDPOINTS]);
    const missing = sdk.map((c) => c.key).filter((k) => !ours.has(k));
    expect(missing, 'codes of the SDK without a decision (decide them in api-errors.ts)').toEqual([]);
    const unknown = [...ours].filter((k) => !sdk.some((c) => c.key === k));
    expect(unknown, 'decisions for codes the SDK does not declare').toEqual([]);
    const both = Object.keys(CODE_DECISIONS).filter((k) => CODES_NOT_ON_OUR_ENDPOINTS.includes(k));
    expect(both).toEqual([]);
  });

  it('has a decision of its own when one of our SDK calls declares it (@throws)', () => {
    const declared = declaredOnOurCalls();
    expect(declared.get('OrganizationOnHoldError')).toContain('messages.batches.create');
    const defaulted = sdk
      .filter((c) => declared.has(c.cls._errorName ?? c.cls.name))
      .filter((c) => !CODE_DECISIONS[c.key])
      .map((c) => c.key);
    expect(defaulted).toEqual([]);
  });

  it('is classified from the SDK’s own error class, built as the SDK builds it from a response', () => {
    for (const { status, code, cls, key } of sdk) {
      const err = apiError(status, 'x_error', 'msg', code);
      // APIError.generate picks the status class; the client picks the coded class from the same pair.
      const coded = codedError(
        cls as unknown as typeof Anthropic.APIError,
        status,
        'invalid_request_error',
        code,
        'msg',
      );
      expect(coded).toBeInstanceOf(cls);
      expect(coded).toBeInstanceOf(err.constructor);
      const want: ApiErrorFamily = CODE_DECISIONS[key]?.family ?? defaultFamily(status, true);
      expect(classifyApiError(coded).family, key).toBe(want);
      expect(classifyApiError(coded)).toMatchObject({ status, code, listed: !!CODE_DECISIONS[key] });
    }
  });

  it('is in ARCHITECTURE.md as generated (run `pnpm gen:readme`)', () => {
    const doc = readFileSync(new URL('../../../ARCHITECTURE.md', import.meta.url), 'utf8');
    expect(doc).toContain(`<!-- error-codes:start -->\n${renderErrorTables()}\n<!-- error-codes:end -->`);
    for (const { code } of sdk) expect(doc).toContain(`\`${code}\``);
  });
});

describe('classifying by class, status and code (never by message)', () => {
  it('sorts the families the issue names', () => {
    const cases: [InstanceType<typeof Anthropic.APIError>, ApiErrorFamily][] = [
      [
        codedError(
          Anthropic.OrganizationOnHoldError,
          400,
          'invalid_request_error',
          'organization_on_hold',
          'held',
        ),
        'account',
      ],
      [apiError(403, 'permission_error', 'x', 'some_new_code'), 'account'],
      [apiError(400, 'invalid_request_error', 'x', 'some_new_code'), 'account'],
      [apiError(403, 'permission_error', 'no'), 'permission'],
      [apiError(401, 'authentication_error', 'no'), 'account'],
      [apiError(402, 'billing_error', 'pay'), 'billing'],
      [
        codedError(
          Anthropic.ContractSpendLimitReachedError,
          429,
          'rate_limit_error',
          'contract_spend_limit_reached',
        ),
        'billing',
      ],
      [
        codedError(Anthropic.RampLimitExceededError, 429, 'rate_limit_error', 'ramp_limit_exceeded'),
        'rate-limit',
      ],
      [apiError(429, 'rate_limit_error', 'slow'), 'rate-limit'],
      [codedError(Anthropic.CMEKKeyUnreachableError, 503, 'api_error', 'cmek_key_unreachable'), 'temporary'],
      [apiError(503, 'api_error', 'x'), 'ambiguous'],
      [apiError(529, 'overloaded_error', 'x'), 'ambiguous'],
      [apiError(413, 'request_too_large', 'big'), 'too-large'],
      [apiError(400, 'invalid_request_error', 'The API also answers a spend limit so'), 'invalid'],
      [apiError(404, 'not_found_error', 'x'), 'not-found'],
      [apiError(422, 'invalid_request_error', 'x'), 'refused'],
      [new Anthropic.APIConnectionTimeoutError(), 'ambiguous'],
      [new Anthropic.APIConnectionError({ message: 'reset' }), 'ambiguous'],
    ];
    for (const [err, family] of cases) expect(classifyApiError(err).family, err.message).toBe(family);
    expect(classifyApiError(new SyntaxError('bad JSON in a 200'))).toMatchObject({
      family: 'ambiguous',
      type: 'client_error',
    });
  });

  it('keeps the message for people and reads retry-after', () => {
    const err = Anthropic.APIError.generate(
      429,
      body('rate_limit_error', 'slow'),
      undefined,
      headers({ 'retry-after': '7' }),
    );
    expect(classifyApiError(err)).toMatchObject({ message: 'slow', retryAfterMs: 7000, code: null });
  });

  it('classifies an errored result line by its type’s status and its error_code', () => {
    expect(classifyResultError({ type: 'invalid_request_error', message: 'm' }).family).toBe('invalid');
    expect(
      classifyResultError({
        type: 'invalid_request_error',
        message: 'm',
        details: { error_code: 'organization_on_hold' },
      }),
    ).toMatchObject({ family: 'account', status: 400, code: 'organization_on_hold' });
    expect(classifyResultError({ type: 'billing_error', message: 'm' }).family).toBe('billing');
    expect(classifyResultError({ type: 'overloaded_error', message: 'm' }).family).toBe('ambiguous');
    expect(classifyResultError({ type: 'permission_error', message: 'm' }).family).toBe('permission');
    expect(classifyResultError({ type: 'brand_new_error', message: 'm' }).family).toBe('ambiguous');
    expect(classifyResultError(null).family).toBe('ambiguous');
  });

  it('names the code and the fix in the circuit it opens', () => {
    const held = classifyApiError(
      codedError(
        Anthropic.OrganizationOnHoldError,
        400,
        'invalid_request_error',
        'organization_on_hold',
        'on hold',
      ),
    );
    expect(circuitFor(held)).toMatchObject({
      kind: 'account',
      code: 'organization_on_hold',
      reason: '400 organization_on_hold: on hold',
    });
    expect(circuitFor(held).fix).toMatch(/trust and safety/);
    const spend = classifyApiError(
      codedError(
        Anthropic.EnforcedSpendLimitReachedError,
        429,
        'rate_limit_error',
        'enforced_spend_limit_reached',
        'cap',
      ),
    );
    expect(circuitFor(spend)).toMatchObject({ kind: 'billing', code: 'enforced_spend_limit_reached' });
    const call = classifyApiError(apiError(400, 'invalid_request_error', 'limit'));
    expect(circuitFor(call)).toMatchObject({
      kind: 'account',
      code: 'invalid_request_error',
      reason: '400 invalid_request_error: limit',
    });
  });

  it('tells the real-time paths what a failure means for the request', () => {
    const of = (status: number, type: string, code?: string) =>
      realtimeAction(classifyApiError(apiError(status, type, 'm', code)));
    expect(of(400, 'invalid_request_error')).toBe('dead');
    expect(of(400, 'invalid_request_error', 'organization_on_hold')).toBe('stop-submissions');
    expect(of(402, 'billing_error')).toBe('stop-submissions');
    expect(of(429, 'rate_limit_error')).toBe('retry');
    expect(of(503, 'api_error', 'cmek_key_unreachable')).toBe('retry');
    expect(of(500, 'api_error')).toBe('retry');
  });
});
