import type Anthropic from '@anthropic-ai/sdk';
import { deriveCustomId, ValidationError } from '@nightshift/shared';
import { createRedis, Store } from '@nightshift/store';
import { rawStore, storeKeys } from '@nightshift/store/testing';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, type EnqueueRequest, type Producer } from '../src/index.js';
import { docRequest } from './helpers.js';

// The review's bad inputs, each refused at enqueue with a ValidationError naming the field, and
// nothing written.

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let producer: Producer;
let prefix: string;
const NOW = Date.parse('2026-11-20T12:00:00Z');
const DAY = 86_400_000;

beforeAll(async () => {
  prefix = uniquePrefix();
  producer = createProducer({ connection: fx.redis, prefix, now: () => NOW });
});
afterAll(async () => {
  await producer.close();
});

/** Enqueues and returns the ValidationError's issues (fails if the call did not refuse). */
async function refused(req: EnqueueRequest): Promise<{ field: string; message: string }[]> {
  const err = await producer.enqueue(req).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).issues;
}

const withParams = (i: string, params: Partial<Anthropic.Messages.MessageCreateParamsNonStreaming>) => {
  const base = docRequest(i);
  return { ...base, params: { ...base.params, ...params } } as EnqueueRequest;
};

const records = async () => (await fx.redis.keys(`${storeKeys(prefix).base}:rec:*`)).length;

describe('numbers beyond what the domain allows', () => {
  it('refuses a deadline of 1e20, one Date cannot hold, and one more than a year ahead', async () => {
    const before = await records();
    for (const deadline of [1e20, -1e20, 8.64e15 + 1]) {
      const issues = await refused({ ...docRequest('d'), deadline });
      expect(issues, String(deadline)).toEqual([
        { field: 'deadline', message: 'must be a valid Date, ms since the epoch, or an ISO-8601 string' },
      ]);
    }
    const far = await refused({ ...docRequest('d'), deadline: NOW + 367 * DAY });
    expect(far[0]).toMatchObject({
      field: 'deadline',
      message: expect.stringMatching(/more than 366 days ahead/),
    });
    expect(await records()).toBe(before);
    // Within the horizon is fine.
    const ok = await producer.enqueue({ ...docRequest('in-a-year'), deadline: NOW + 365 * DAY });
    expect(ok.outcome).toBe('queued');
  });

  it('refuses a max_tokens the Batches API never takes', async () => {
    for (const max_tokens of [1e20, 300_001, Number.MAX_SAFE_INTEGER + 2]) {
      const issues = await refused(withParams('m', { max_tokens }));
      expect(issues[0], String(max_tokens)).toMatchObject({
        field: 'params.max_tokens',
        message: expect.stringMatching(/from 1 to 300000/),
      });
    }
  });
});

describe('model ids', () => {
  it('accepts the ids the API and the SDK name', async () => {
    for (const model of [
      'claude-haiku-4-5',
      'claude-haiku-4-5-20251001',
      'claude-opus-4-5-20251101',
      'claude-sonnet-4-5-20250929',
      'claude-mythos-preview',
      'claude-opus-5-5',
    ]) {
      const r = await producer.enqueue(withParams(`model-${model}`, { model }));
      expect(r.outcome, model).toBe('queued');
    }
  });

  it('refuses a `|` (the ledger separator), control characters, white space and a megabyte', async () => {
    for (const model of [
      'claude|haiku',
      '\u001b[31mclaude-haiku-4-5\u001b[0m',
      'claude haiku',
      'claude-haiku-4-5\n',
      '-leading-dash',
      '',
      'm'.repeat(65),
      'x'.repeat(1_000_000),
      'clаude', // a Cyrillic "а"
    ]) {
      const issues = await refused(withParams('bad-model', { model }));
      expect(issues[0]?.field, JSON.stringify(model.slice(0, 20))).toBe('params.model');
    }
  });

  it('checks what routeModel returns too', async () => {
    const routed = createProducer({ connection: fx.redis, prefix: uniquePrefix(), routeModel: () => 'a|b' });
    await expect(routed.enqueue(docRequest('r'))).rejects.toThrow(/params.model: must be a model id/);
    await routed.close();
  });

  it('leaves a `|` an earlier version stored in a model to the model, in the ledger', async () => {
    const store = new Store(fx.redis, prefix);
    await fx.redis.hincrby(rawStore(store).keys.ledger('2026-11-20'), 'b|classify-docs|old|model|cost', 7);
    await fx.redis.sadd(rawStore(store).keys.ledgerDays, '2026-11-20');
    const rows = await store.ledger.rows(['2026-11-20']);
    expect(rows).toEqual([
      expect.objectContaining({ feature: 'classify-docs', model: 'old|model', costNano: 7 }),
    ]);
  });
});

describe('keys that are not well-formed Unicode', () => {
  it('are refused with a ValidationError instead of colliding (lone surrogates have no UTF-8 form)', async () => {
    // Two keys that differ only in a lone surrogate: UTF-8 encoding turns both into U+FFFD.
    const before = await records();
    const a = 'doc-\uD800';
    const b = 'doc-\uDBFF';
    for (const key of [a, b, '\uDC00', 'x\uD83D']) {
      const issues = await refused({ ...docRequest('s'), key });
      expect(issues).toEqual([
        { field: 'key', message: expect.stringMatching(/lone UTF-16 surrogate at index/) },
      ]);
    }
    expect(() => producer.customIdFor('classify-docs', a)).toThrow(ValidationError);
    expect(() => deriveCustomId('classify-docs', b)).toThrow(/not well-formed Unicode/);
    expect(await records()).toBe(before);
    // A surrogate pair is a real character (an emoji): fine, and distinct from its neighbours.
    const emoji = await producer.enqueue({ ...docRequest('e'), key: 'doc-\uD83D\uDE00' });
    const other = await producer.enqueue({ ...docRequest('e'), key: 'doc-\uD83D\uDE01' });
    expect(emoji.customId).not.toBe(other.customId);
  });
});
