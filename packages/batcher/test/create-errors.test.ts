import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { classifyCreateError } from '../src/create-errors.js';

// Real SDK error instances, built as the SDK builds them from a response.
const headers = () => new Headers({ 'request-id': 'req_1' });
const body = (type: string, message: string, errorCode?: string) => ({
  type: 'error',
  error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
});
const bad = (message: string, code?: string) =>
  Anthropic.APIError.generate(400, body('invalid_request_error', message, code), undefined, headers());

describe('classifying a failed batches.create', () => {
  it('points at a request only when a 400 without a code names requests.<i>', () => {
    const named = classifyCreateError(bad("requests.12.custom_id: String should match pattern '^x$'"));
    expect(named).toMatchObject({ family: 'invalid', requestIndex: 12 });
    const unnamed = classifyCreateError(bad('Your workspace has reached its spend limit.'));
    expect(unnamed.family).toBe('invalid');
    expect(unnamed.requestIndex).toBeUndefined();
  });

  it('never reads an index out of a coded refusal, even when its message mentions one', () => {
    const held = new Anthropic.OrganizationOnHoldError(
      400,
      body('invalid_request_error', 'requests.0 cannot be processed: on hold', 'organization_on_hold'),
      undefined,
      headers(),
    );
    expect(classifyCreateError(held)).toMatchObject({ family: 'account', code: 'organization_on_hold' });
    expect(classifyCreateError(held).requestIndex).toBeUndefined();
  });
});
