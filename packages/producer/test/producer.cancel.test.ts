import { createRedis, Store } from '@nightshift/store';
import { claimInto, uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createProducer, type Producer, requestJsonSchema, ValidationError } from '../src/index.js';
import { docRequest } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let store: Store;
let producer: Producer;

afterAll(async () => {
  await producer?.close();
});
beforeEach(async () => {
  await producer?.close();
  const prefix = uniquePrefix();
  store = new Store(fx.redis, prefix);
  producer = createProducer({ connection: fx.redis, prefix });
});

describe('cancel', () => {
  it('cancels a queued request; enqueueing it again answers exists, replace re-opens it', async () => {
    const { customId } = await producer.enqueue(docRequest(1));
    expect(await producer.cancel(customId)).toEqual({ customId, canceled: true, state: 'canceled' });
    expect(await producer.getStatus(customId)).toMatchObject({ state: 'canceled' });
    expect((await store.pending.overview()).total).toBe(0);
    expect(await producer.enqueue(docRequest(1))).toMatchObject({ outcome: 'exists', state: 'canceled' });
    expect(await producer.enqueue(docRequest(1), { replace: true })).toMatchObject({
      outcome: 'replaced',
      state: 'queued',
    });
    expect((await store.pending.overview()).total).toBe(1);
  });

  it('leaves a request that is not only queued, and names its state', async () => {
    const { customId } = await producer.enqueue(docRequest(2));
    await claimInto(store, (await store.pending.overview()).groups[0]!.group);
    expect(await producer.cancel(customId)).toEqual({ customId, canceled: false, state: 'claimed' });
    expect(await producer.cancel('nope')).toEqual({ customId: 'nope', canceled: false, state: 'unknown' });
    await expect(producer.cancel('bad id')).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('notify', () => {
  it('stores the endpoint names a request asks for, and refuses anything but names', async () => {
    const { customId } = await producer.enqueue(
      docRequest(3, { notify: ['billing', 'billing', 'ops.alerts'] }),
    );
    expect((await store.records.get(customId))?.notify).toBe('billing,ops.alerts');
    for (const notify of [['https://evil.test/hook'], [], 'billing', Array(6).fill('a')]) {
      const err = await producer.enqueue(docRequest(4, { notify: notify as string[] })).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.issues[0].field).toMatch(/^notify/);
    }
  });
});

describe('the JSON Schema of a request (for the OpenAPI document)', () => {
  it('is generated from the validation schema: required fields, patterns, no unknown fields', () => {
    const schema = requestJsonSchema() as {
      $defs: Record<string, { properties: Record<string, Record<string, unknown>>; required: string[] }>;
    } & Record<string, unknown>;
    const req = schema.$defs.EnqueueRequest!;
    expect(req.required).toEqual(['feature', 'params']);
    expect(req.properties.feature!.pattern).toBe('^[A-Za-z0-9_.-]{1,64}$');
    expect(req.properties.customId!.pattern).toBe('^[a-zA-Z0-9_-]{1,64}$');
    expect((req as unknown as { additionalProperties: unknown }).additionalProperties).toEqual({ not: {} });
    const params = schema.$defs.MessageParams!;
    expect(params.required).toEqual(['model', 'max_tokens', 'messages']);
    expect(params.properties.max_tokens).toMatchObject({ type: 'integer', minimum: 1 });
    expect(params.properties.temperature).toEqual({ not: {} });
  });
});
