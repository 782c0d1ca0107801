import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { classifyCreateError } from '../src/create-errors.js';

// Real SDK error instances, built as the SDK builds them from a response.
const headers = (h: Record<string, string> = {}) => new Headers({ 'request-id': 'req_1', ...h });
const body = (type: string, message: string, errorCode?: string) => ({
  type: 'error',
  error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
});

describe('classifying a failed batches.create', () => {
  it('maps statuses, error codes and SDK classes to what the batcher does', () => {
    const spend = new Anthropic.EnforcedSpendLimitReachedError(
      429,
      body('rate_limit_error', 'spend limit reached', 'enforced_spend_limit_reached'),
      undefined,
      headers(),
    );
    expect(classifyCreateError(spend).kind).toBe('billing');
    const otherSpend = Anthropic.APIError.generate(
      429,
      body('rate_limit_error', 'contract limit', 'contract_spend_limit_reached'),
      undefined,
      headers(),
    );
    expect(classifyCreateError(otherSpend).kind).toBe('billing');
    expect(
      classifyCreateError(
        Anthropic.APIError.generate(402, body('billing_error', 'pay'), undefined, headers()),
      ).kind,
    ).toBe('billing');
    expect(
      classifyCreateError(
        Anthropic.APIError.generate(
          429,
          body('rate_limit_error', 'slow'),
          undefined,
          headers({ 'retry-after': '7' }),
        ),
      ),
    ).toEqual({ kind: 'rate-limited', message: 'slow', retryAfterMs: 7000 });
    expect(
      classifyCreateError(
        Anthropic.APIError.generate(
          400,
          body('invalid_request_error', "requests.12.custom_id: String should match pattern '^x$'"),
          undefined,
          headers(),
        ),
      ),
    ).toMatchObject({ kind: 'invalid', index: 12 });
    expect(
      classifyCreateError(
        Anthropic.APIError.generate(413, body('request_too_large', 'big'), undefined, headers()),
      ).kind,
    ).toBe('too-large');
    for (const status of [500, 502, 503, 504, 529, 408]) {
      const err = Anthropic.APIError.generate(status, body('api_error', 'x'), undefined, headers());
      expect(classifyCreateError(err).kind).toBe('ambiguous');
    }
    expect(classifyCreateError(new Anthropic.APIConnectionTimeoutError()).kind).toBe('ambiguous');
    expect(classifyCreateError(new Anthropic.APIConnectionError({ message: 'reset' })).kind).toBe(
      'ambiguous',
    );
    expect(classifyCreateError(new SyntaxError('bad JSON in a 200')).kind).toBe('ambiguous');
    expect(
      classifyCreateError(
        Anthropic.APIError.generate(401, body('authentication_error', 'no'), undefined, headers()),
      ),
    ).toMatchObject({ kind: 'refused', status: 401 });
  });
});
