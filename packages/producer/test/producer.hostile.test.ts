import { NightshiftError } from '@nightshift/shared';
import { createRedis, Store } from '@nightshift/store';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createProducer, type EnqueueRequest } from '../src/index.js';
import { MODEL } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));

// ---- adversarial values -------------------------------------------------------------------------

const cyclic = () => {
  const o: Record<string, unknown> = { a: [1] };
  (o.a as unknown[]).push(o);
  return o;
};
const throwingGetter = () =>
  Object.defineProperty({}, 'model', {
    enumerable: true,
    get() {
      throw new Error('getter says no');
    },
  });
const throwingProxy = () =>
  new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('proxy says no');
      },
    },
  );
const deep = () => {
  let v: unknown = 'bottom';
  for (let i = 0; i < 20_000; i++) v = [v];
  return v;
};

/** Values built to break serializers, hashes and prototype chains. */
const nasty = fc.oneof(
  fc
    .constantFrom<() => unknown>(
      () => Number.NaN,
      () => Number.POSITIVE_INFINITY,
      () => -0,
      () => 10n,
      () => undefined,
      () => Symbol('s'),
      () => () => 1,
      () => new Date(0),
      () => new Map([[1, 2]]),
      () => Buffer.from('x'),
      cyclic,
      throwingGetter,
      throwingProxy,
      deep,
      () => JSON.parse('{"__proto__":{"polluted":"yes"},"a":1}'),
      () => ({ constructor: { prototype: { polluted: 'yes' } } }),
      () => Object.create(null),
      () => 'x'.repeat(40_000),
      () => '\ud800 lone surrogate \udfff',
      () => {
        const sparse: unknown[] = [];
        sparse[2] = 'holes before me';
        return sparse;
      },
    )
    .map((make) => make()),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withSparseArray: true,
    withBoxedValues: true,
    stringUnit: 'binary',
  }),
);

const unicode = fc.string({ unit: 'binary', maxLength: 60 });
const validTag = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);

const validParams = fc.record({
  model: fc.constantFrom(MODEL, 'claude-sonnet-4-6'),
  max_tokens: fc.integer({ min: 1, max: 4096 }),
  system: fc.option(unicode, { nil: undefined }),
  messages: fc.array(
    fc.record({
      role: fc.constantFrom('user' as const, 'assistant' as const),
      content: fc.oneof(
        unicode,
        fc.array(fc.record({ type: fc.constant('text' as const), text: unicode }), {
          minLength: 1,
          maxLength: 2,
        }),
      ),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

/** Valid params with one field replaced by something hostile. */
const taintedParams = fc
  .tuple(
    validParams,
    fc.constantFrom(
      'model',
      'max_tokens',
      'messages',
      'system',
      'metadata',
      'stream',
      '__proto__',
      'constructor',
    ),
    nasty,
  )
  .map(([p, field, v]) => {
    const copy: Record<string, unknown> = { ...p };
    Object.defineProperty(copy, field, { value: v, enumerable: true, writable: true, configurable: true });
    return copy;
  });

const request = fc.record(
  {
    feature: fc.oneof({ weight: 4, arbitrary: validTag }, { weight: 1, arbitrary: nasty }),
    key: fc.oneof(
      { weight: 4, arbitrary: unicode.filter((s) => s.length > 0) },
      { weight: 1, arbitrary: nasty },
    ),
    params: fc.oneof(
      { weight: 3, arbitrary: validParams },
      { weight: 2, arbitrary: taintedParams },
      { weight: 1, arbitrary: nasty },
    ),
    metadata: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }), nasty),
    partition: fc.oneof(fc.constant(undefined), validTag, nasty),
    deadline: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 4_000_000_000_000 }) },
      { weight: 1, arbitrary: nasty },
    ),
  },
  { requiredKeys: ['feature', 'key', 'params'] },
);

/** A request that must be accepted (keys sometimes repeat: identical duplicates collapse). */
const validRequest = fc.record(
  {
    feature: validTag,
    key: fc.oneof(
      unicode.filter((s) => s.length > 0),
      fc.constantFrom('dup-1', 'dup-2'),
    ),
    params: validParams,
    metadata: fc.jsonValue({ maxDepth: 2 }),
    partition: validTag,
    deadline: fc.integer({ min: Date.now() + 26 * 3_600_000, max: 4_000_000_000_000 }),
  },
  { requiredKeys: ['feature', 'key', 'params'] },
);

const batchOfRequests = fc.oneof(
  fc.array(validRequest, { minLength: 1, maxLength: 6 }),
  fc.array(fc.oneof({ weight: 3, arbitrary: validRequest }, { weight: 1, arbitrary: request }), {
    minLength: 1,
    maxLength: 6,
  }),
  fc.array(request, { minLength: 1, maxLength: 4 }),
);

// ---- properties ---------------------------------------------------------------------------------

const prototypeIsClean = () =>
  Object.getOwnPropertyNames(Object.prototype).every((k) => k !== 'polluted') &&
  ({} as Record<string, unknown>).polluted === undefined;

async function keysUnder(prefix: string) {
  return fx.redis.keys(`${prefix}:*`);
}

describe('hostile input (property-based)', () => {
  it('enqueueMany is all or nothing: a typed error and no key written, or every request queued once', async () => {
    await fc.assert(
      fc.asyncProperty(batchOfRequests, async (reqs) => {
        const prefix = uniquePrefix();
        const producer = createProducer({ connection: fx.redis, prefix, maxRequestBytes: 20_000 });
        const store = new Store(fx.redis, prefix);
        try {
          const res = await producer.enqueueMany(reqs as EnqueueRequest[]).then(
            (r) => ({ ok: true as const, r }),
            (err: unknown) => ({ ok: false as const, err }),
          );
          if (res.ok) {
            const distinct = new Set(res.r.map((x) => x.customId));
            expect(res.r).toHaveLength(reqs.length);
            expect(res.r.every((x) => x.outcome === 'queued' && x.state === 'queued')).toBe(true);
            expect((await store.pending.overview()).total).toBe(distinct.size);
            for (const cid of distinct) expect(cid).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
          } else {
            expect(res.err).toBeInstanceOf(NightshiftError);
            expect(['VALIDATION', 'DEADLINE_TOO_SOON']).toContain((res.err as NightshiftError).code);
            expect(await keysUnder(prefix)).toEqual([]);
          }
          expect(prototypeIsClean()).toBe(true);
        } finally {
          await producer.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('valid requests with unicode everywhere are stored exactly as given', async () => {
    const prefix = uniquePrefix();
    const producer = createProducer({ connection: fx.redis, prefix });
    const store = new Store(fx.redis, prefix);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(validParams, fc.jsonValue({ maxDepth: 3 }), unicode, async (params, metadata, key) => {
        const r = await producer.enqueue({ feature: 'uni', key: `${n++}:${key}`, params, metadata });
        const rec = (await store.records.get(r.customId))!;
        expect(JSON.parse(rec.params)).toEqual(JSON.parse(JSON.stringify(params)));
        expect(rec.metadata).toBe(JSON.stringify(metadata));
        // Enqueueing it again is recognised as the same request.
        expect(
          (await producer.enqueue({ feature: 'uni', key: `${n - 1}:${key}`, params, metadata })).outcome,
        ).toBe('exists');
      }),
      { numRuns: 100 },
    );
    await producer.close();
  });

  it('keys named __proto__ and constructor are data, never prototypes', async () => {
    const prefix = uniquePrefix();
    const producer = createProducer({ connection: fx.redis, prefix });
    const store = new Store(fx.redis, prefix);
    const metadata = JSON.parse(
      '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}',
    );
    const params = JSON.parse(
      `{"model":"${MODEL}","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":{"__proto__":{"x":1}}}`,
    );
    const r = await producer.enqueue({ feature: 'proto', key: 'k', params, metadata });
    const rec = (await store.records.get(r.customId))!;
    expect(rec.metadata).toBe(JSON.stringify(metadata));
    expect(Object.getOwnPropertyDescriptor(JSON.parse(rec.metadata), '__proto__')?.value).toEqual({
      polluted: 'yes',
    });
    expect(rec.params).toContain('"__proto__":{"x":1}');
    // A params object with and without the __proto__ key are different requests (the key is hashed).
    const without = { ...params, metadata: {} };
    expect((await producer.enqueue({ feature: 'proto', key: 'k2', params: without })).outcome).toBe('queued');
    expect(prototypeIsClean()).toBe(true);
    await producer.close();
  });
});
