import { deriveCustomId } from '@nightshift/shared';
import { createRedis, Store } from '@nightshift/store';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  createProducer,
  DeadlineTooSoonError,
  type EnqueueRequest,
  type Producer,
  type ProducerOptions,
  ValidationError,
} from '../src/index.js';
import { docRequest, MODEL } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let prefix: string;
let store: Store;
let producer: Producer;
const open: Producer[] = [];

const make = (over: Partial<ProducerOptions> = {}) => {
  const p = createProducer({ connection: fx.redis, prefix, ...over });
  open.push(p);
  return p;
};

afterAll(async () => {
  await Promise.all(open.map((p) => p.close()));
});
beforeEach(() => {
  prefix = uniquePrefix();
  store = new Store(fx.redis, prefix);
  producer = make();
});

const total = async () => (await store.pending.overview()).total;

describe('custom ids', () => {
  it('derives the same custom_id in two producer instances', async () => {
    const other = make();
    const id = producer.customIdFor('classify-docs', 'doc-1');
    expect(other.customIdFor('classify-docs', 'doc-1')).toBe(id);
    expect(id).toBe(deriveCustomId('classify-docs', 'doc-1'));
    expect(id).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    const first = await producer.enqueue(docRequest(1));
    const second = await other.enqueue(docRequest(1));
    expect(first).toMatchObject({ customId: id, outcome: 'queued', state: 'queued' });
    expect(second).toMatchObject({ customId: id, outcome: 'exists', state: 'queued' });
    expect(await total()).toBe(1);
  });

  it('uses an explicit customId as given', async () => {
    const r = await producer.enqueue(docRequest(1, { key: undefined, customId: 'invoice_42' }));
    expect(r.customId).toBe('invoice_42');
    expect(r.status).toMatchObject({ state: 'queued', feature: 'classify-docs', model: MODEL, attempt: 1 });
  });

  it('refuses bad options with a CONFIG error', () => {
    expect(() => createProducer({} as ProducerOptions)).toThrow(/exactly one of connection or redisUrl/);
    expect(() => make({ prefix: 'a:b' })).toThrow(/prefix/);
    expect(() => make({ realtimeConcurrency: 0, maxRequestBytes: -1 })).toThrow(
      /maxRequestBytes must be > 0 .*; realtimeConcurrency must be an integer/,
    );
    // Bounded above too: a slack of 1e20 would make every deadline "too soon".
    expect(() => make({ deadlineSlackMs: 1e20, maxRequestBytes: 1e12, realtimeConcurrency: 1e9 })).toThrow(
      /deadlineSlackMs must be from 0 to 366 days.*maxRequestBytes .*at most 256000000.*realtimeConcurrency must be an integer from 1 to 1000/,
    );
  });

  it('refuses bad input to customIdFor and getStatus with a ValidationError', async () => {
    expect(() => producer.customIdFor('bad feature', '')).toThrow(ValidationError);
    await expect(producer.getStatus('a:b')).rejects.toBeInstanceOf(ValidationError);
    expect(await producer.getStatus('never_seen')).toEqual({ customId: 'never_seen', state: 'unknown' });
  });
});

describe('idempotency', () => {
  it('re-enqueueing the same request is a no-op that returns the current status', async () => {
    const a = await producer.enqueue(docRequest(1));
    const b = await producer.enqueue(docRequest(1));
    expect(b.outcome).toBe('exists');
    expect(b.status).toEqual(a.status);
    expect(await total()).toBe(1);
  });

  it('treats params with the same content in another key order as the same request', async () => {
    await producer.enqueue(docRequest(1));
    const { model, max_tokens, system, messages } = docRequest(1).params;
    const reordered = docRequest(1, { params: { messages, system, max_tokens, model } });
    expect((await producer.enqueue(reordered)).outcome).toBe('exists');
  });

  it('refuses the same custom_id with different params and changes nothing', async () => {
    await producer.enqueue(docRequest(1));
    const before = await store.records.get(producer.customIdFor('classify-docs', 'doc-1'));
    const changed = docRequest(1, { params: { ...docRequest(1).params, max_tokens: 99 } });
    const err = await producer.enqueue(changed).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.conflicts).toEqual([{ customId: before!.customId, state: 'queued' }]);
    expect(await store.records.get(before!.customId)).toEqual(before);
  });

  it('replaces a request that is still queued when asked to', async () => {
    await producer.enqueue(docRequest(1));
    const changed = docRequest(1, { params: { ...docRequest(1).params, max_tokens: 99 } });
    const r = await producer.enqueue(changed, { replace: true });
    expect(r.outcome).toBe('replaced');
    expect(JSON.parse((await store.records.get(r.customId))!.params).max_tokens).toBe(99);
    expect(await total()).toBe(1);
  });

  it('refuses to replace a request that is no longer only queued', async () => {
    const r = await producer.enqueue(docRequest(1));
    const { group } = (await store.records.get(r.customId))!;
    await store.submissions.open({
      id: 's1',
      partition: 'default',
      reason: 'manual',
      owner: 't',
      leaseMs: 60_000,
    });
    await store.submissions.claim(group, 's1', 10, 1e9);
    const changed = docRequest(1, { params: { ...docRequest(1).params, max_tokens: 99 } });
    const err = await producer.enqueue(changed, { replace: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.conflicts[0].state).toBe('claimed');
    expect(JSON.parse((await store.records.get(r.customId))!.params).max_tokens).toBe(16);
  });

  it('enqueueMany writes nothing when any item conflicts', async () => {
    await producer.enqueue(docRequest(1));
    const changed = docRequest(1, { params: { ...docRequest(1).params, max_tokens: 99 } });
    const err = await producer.enqueueMany([docRequest(2), docRequest(3), changed]).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.conflicts).toEqual([expect.objectContaining({ index: 2, state: 'queued' })]);
    expect(await total()).toBe(1);
    expect(await producer.getStatus(producer.customIdFor('classify-docs', 'doc-2'))).toMatchObject({
      state: 'unknown',
    });
  });

  it('collapses identical duplicates inside one call and refuses different ones', async () => {
    const res = await producer.enqueueMany([docRequest(1), docRequest(2), docRequest(1)]);
    expect(res.map((r) => r.outcome)).toEqual(['queued', 'queued', 'queued']);
    expect(res[2]!.customId).toBe(res[0]!.customId);
    expect(await total()).toBe(2);
    const changed = docRequest(5, { params: { ...docRequest(5).params, max_tokens: 3 } });
    const err = await producer.enqueueMany([docRequest(5), changed]).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues).toEqual([expect.objectContaining({ index: 1, field: 'key' })]);
    expect(await total()).toBe(2);
  });

  it('answers each item of a mixed enqueueMany in input order', async () => {
    await producer.enqueue(docRequest(1));
    const res = await producer.enqueueMany([docRequest(0), docRequest(1), docRequest(2)]);
    expect(res.map((r) => r.outcome)).toEqual(['queued', 'exists', 'queued']);
    expect(res.map((r) => r.state)).toEqual(['queued', 'queued', 'queued']);
    expect(await producer.enqueueMany([])).toEqual([]);
  });
});

const base = docRequest(1);
const withParams = (p: Record<string, unknown>) => ({ ...base, params: { ...base.params, ...p } });
const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;

/** [what, request, expected field paths]: each must be refused with exactly these fields. */
const INVALID: [string, unknown, string[]][] = [
  ['a request that is not an object', null, ['request']],
  ['a custom_id out of pattern', { ...base, key: undefined, customId: 'has space' }, ['customId']],
  ['a custom_id longer than 64', { ...base, key: undefined, customId: 'x'.repeat(65) }, ['customId']],
  ['both customId and key', { ...base, customId: 'abc' }, ['customId']],
  ['neither customId nor key', { ...base, key: undefined }, ['key']],
  ['an empty key', { ...base, key: '' }, ['key']],
  ['a missing feature', { ...base, feature: undefined }, ['feature']],
  ['a feature out of pattern', { ...base, feature: 'no spaces allowed' }, ['feature']],
  ['params that are not an object', { ...base, params: 'hello' }, ['params']],
  ['params as an array', { ...base, params: [] }, ['params']],
  ['an empty model', withParams({ model: '' }), ['params.model']],
  ['a missing model', withParams({ model: undefined }), ['params.model']],
  ['empty messages', withParams({ messages: [] }), ['params.messages']],
  ['messages that are not an array', withParams({ messages: 'hi' }), ['params.messages']],
  [
    'a system role in messages',
    withParams({ messages: [{ role: 'system', content: 'x' }] }),
    ['params.messages[0].role'],
  ],
  [
    'message content of the wrong type',
    withParams({ messages: [{ role: 'user', content: 5 }] }),
    ['params.messages[0].content'],
  ],
  ['max_tokens 0', withParams({ max_tokens: 0 }), ['params.max_tokens']],
  ['fractional max_tokens', withParams({ max_tokens: 1.5 }), ['params.max_tokens']],
  ['max_tokens as a string', withParams({ max_tokens: '10' }), ['params.max_tokens']],
  ['stream: true', withParams({ stream: true }), ['params.stream']],
  ['temperature (removed in API 2026-10-21)', withParams({ temperature: 0.2 }), ['params.temperature']],
  ['top_p and top_k', withParams({ top_p: 0.9, top_k: 5 }), ['params.top_p', 'params.top_k']],
  ['a system prompt of the wrong type', withParams({ system: 42 }), ['params.system']],
  [
    'NaN inside params',
    withParams({ messages: [{ role: 'user', content: [{ type: 'text', text: Number.NaN }] }] }),
    ['params.messages[0].content[0].text'],
  ],
  [
    'Infinity inside params',
    withParams({ metadata: { user_id: Number.POSITIVE_INFINITY } }),
    ['params.metadata.user_id'],
  ],
  ['a BigInt inside params', withParams({ metadata: { user_id: 10n } }), ['params.metadata.user_id']],
  ['a function inside params', withParams({ stop_sequences: [() => 1] }), ['params.stop_sequences[0]']],
  ['a Date inside params', withParams({ stop_sequences: [new Date()] }), ['params.stop_sequences[0]']],
  [
    'undefined inside an array',
    withParams({ stop_sequences: ['a', undefined] }),
    ['params.stop_sequences[1]'],
  ],
  ['a cycle inside params', withParams({ metadata: cyclic }), ['params.metadata.self']],
  ['metadata over 16 KiB', { ...base, metadata: { blob: 'x'.repeat(17_000) } }, ['metadata']],
  ['metadata that is not JSON', { ...base, metadata: { n: 1n } }, ['metadata.n']],
  ['cyclic metadata', { ...base, metadata: cyclic }, ['metadata.self']],
  ['a partition out of pattern', { ...base, partition: 'tenant a' }, ['partition']],
  ['an empty partition', { ...base, partition: '' }, ['partition']],
  ['an unparseable deadline', { ...base, deadline: 'next tuesday' }, ['deadline']],
  ['an invalid Date deadline', { ...base, deadline: new Date('nope') }, ['deadline']],
  ['a NaN deadline', { ...base, deadline: Number.NaN }, ['deadline']],
  ['an unknown realtime choice', { ...base, realtime: 'always' }, ['realtime']],
  ['an unknown field (custom_id)', { ...base, custom_id: 'abc' }, ['custom_id']],
];

describe('validation: nothing is written and every problem is named', () => {
  it.each(INVALID)('refuses %s', async (_what, req, fields) => {
    const err = await producer.enqueue(req as EnqueueRequest).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.code).toBe('VALIDATION');
    expect(err.issues.map((i: { field: string }) => i.field)).toEqual(fields);
    for (const issue of err.issues) {
      expect(issue.index).toBeUndefined();
      expect(issue.message.length).toBeGreaterThan(10);
    }
    expect(await total()).toBe(0);
    expect(await fx.redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it('refuses a request too large to ever fit in a batch', async () => {
    const small = make({ maxRequestBytes: 1000 });
    const err = await small
      .enqueue(withParams({ messages: [{ role: 'user', content: 'é'.repeat(600) }] }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues[0]).toMatchObject({ field: 'params', message: expect.stringMatching(/bytes/) });
    expect(await total()).toBe(0);
  });

  it('lists every bad item of enqueueMany by index and writes none', async () => {
    const reqs = [
      docRequest(0),
      withParams({ max_tokens: 0 }),
      docRequest(2),
      { ...docRequest(3), feature: '' },
    ];
    const err = await producer.enqueueMany(reqs as EnqueueRequest[]).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues.map((i: { index: number; field: string }) => [i.index, i.field])).toEqual([
      [1, 'params.max_tokens'],
      [3, 'feature'],
    ]);
    expect(err.message).toContain('requests[1].params.max_tokens');
    expect(err.message).toContain('nothing was enqueued');
    await expect(producer.enqueueMany('not a list' as never)).rejects.toBeInstanceOf(ValidationError);
    expect(await total()).toBe(0);
  });

  it('treats undefined object fields as absent, as JSON and the SDK do', async () => {
    const r = await producer.enqueue(withParams({ system: undefined, tools: undefined }));
    const stored = JSON.parse((await store.records.get(r.customId))!.params);
    expect('system' in stored).toBe(false);
  });

  it('does not change the caller’s objects', async () => {
    const req = docRequest(1);
    const copy = structuredClone(req);
    await make({ routeModel: () => 'claude-sonnet-4-6' }).enqueue(req);
    expect(req).toEqual(copy);
  });
});

describe('model routing', () => {
  it('applies routeModel before hashing and stores the routed model', async () => {
    const routed = make({ routeModel: (r) => (r.feature === 'classify-docs' ? 'claude-sonnet-4-6' : MODEL) });
    const r = await routed.enqueue(docRequest(1));
    const rec = (await store.records.get(r.customId))!;
    expect(rec.model).toBe('claude-sonnet-4-6');
    expect(JSON.parse(rec.params).model).toBe('claude-sonnet-4-6');
    expect(r.status).toMatchObject({ model: 'claude-sonnet-4-6' });
    // The same request routed the same way is the same request.
    expect((await routed.enqueue(docRequest(1))).outcome).toBe('exists');
  });

  it('turns a throwing or empty routeModel into a validation issue', async () => {
    const throwing = make({
      routeModel: () => {
        throw new Error('no route');
      },
    });
    const err = await throwing.enqueue(docRequest(1)).catch((e) => e);
    expect(err.issues).toEqual([{ field: 'params.model', message: expect.stringContaining('no route') }]);
    const empty = make({ routeModel: () => '' });
    expect((await empty.enqueue(docRequest(1)).catch((e) => e)).issues[0].field).toBe('params.model');
    expect(await total()).toBe(0);
  });
});

describe('prompt-cache groups', () => {
  const groupOf = async (req: EnqueueRequest) => {
    const r = await producer.enqueue(req);
    return (await store.records.get(r.customId))!.group;
  };
  const cached = (doc: string, question: string, i: number): EnqueueRequest => ({
    feature: 'qa',
    key: `q-${i}`,
    params: {
      model: MODEL,
      max_tokens: 16,
      system: [{ type: 'text', text: 'Answer from the document.' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: doc, cache_control: { type: 'ephemeral', ttl: '1h' } },
            { type: 'text', text: question },
          ],
        },
      ],
    },
  });

  it('groups requests that share a system prompt when no block is marked for caching', async () => {
    const a = await groupOf(docRequest(1));
    expect(await groupOf(docRequest(2))).toBe(a);
    expect(await groupOf({ ...withParams({ system: 'Another prompt' }), key: 'doc-x' })).not.toBe(a);
    expect(await groupOf(docRequest(3, { partition: 'tenant-b' }))).not.toBe(a);
    expect(
      await groupOf(docRequest(4, { params: { ...docRequest(4).params, model: 'claude-sonnet-4-6' } })),
    ).not.toBe(a);
  });

  it('cuts the prefix after the last cache_control block', async () => {
    const a = await groupOf(cached('DOC-A', 'Who signed?', 1));
    expect(await groupOf(cached('DOC-A', 'When does it end?', 2))).toBe(a);
    expect(await groupOf(cached('DOC-B', 'Who signed?', 3))).not.toBe(a);
  });
});

describe('deadlines', () => {
  const t0 = Date.parse('2026-11-02T00:00:00Z');
  const HOUR = 3_600_000;

  it('refuses a deadline the batch path cannot meet and writes nothing', async () => {
    const p = make({ now: () => t0 });
    const soon = docRequest(2, { deadline: t0 + 24 * HOUR + 30 * 60_000 });
    const err = await p.enqueueMany([docRequest(1), soon]).catch((e) => e);
    expect(err).toBeInstanceOf(DeadlineTooSoonError);
    expect(err.code).toBe('DEADLINE_TOO_SOON');
    expect(err.customIds).toEqual([p.customIdFor('classify-docs', 'doc-2')]);
    expect(err.message).toMatch(/realtime: 'fallback'/);
    expect(await total()).toBe(0);
  });

  it('honours a configured slack', async () => {
    const p = make({ now: () => t0, deadlineSlackMs: 10 * 60_000 });
    const r = await p.enqueue(docRequest(1, { deadline: t0 + 24 * HOUR + 30 * 60_000 }));
    expect(r.outcome).toBe('queued');
  });

  it('stores the deadline (ms, Date or ISO string) so the batcher can flush early', async () => {
    const p = make({ now: () => t0 });
    const d = t0 + 30 * HOUR;
    const a = await p.enqueue(docRequest(1, { deadline: d }));
    await p.enqueue(docRequest(2, { deadline: new Date(d + 1000) }));
    await p.enqueue(docRequest(3, { deadline: new Date(d + 2000).toISOString() }));
    expect(a.status).toMatchObject({ deadline: d, enqueuedAt: t0 });
    expect((await store.pending.overview(t0)).earliestDeadline).toBe(d);
    expect(await store.pending.deadlinesBefore(d + 2000)).toHaveLength(3);
  });
});
