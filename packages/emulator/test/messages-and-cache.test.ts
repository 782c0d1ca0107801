import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRespond, type Emulator, type EmulatorOptions, startEmulator } from '../src/index.js';
import type { ApiError } from './helpers.js';
import {
  collect,
  expectMessageShape,
  MODEL,
  type ResultLine,
  rawReq,
  req,
  sdk,
  statusFault,
} from './helpers.js';

let emu: Emulator | undefined;
afterEach(() => emu?.close());

async function start(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ quiet: true, minCacheableTokens: 100, ...opts });
  return { emu, client: sdk(emu) };
}

const SYSTEM = 'You are a meticulous classifier. '.repeat(25).slice(0, 800); // 800 chars = 200 tokens

function cachedReq(id: string, question: string, ttl?: '1h') {
  return rawReq(id, {
    model: MODEL,
    max_tokens: 32,
    system: [
      { type: 'text', text: SYSTEM, cache_control: ttl ? { type: 'ephemeral', ttl } : { type: 'ephemeral' } },
    ],
    messages: [{ role: 'user', content: question }],
  });
}

async function run(client: Anthropic, requests: Anthropic.Messages.BatchCreateParams.Request[]) {
  const b = await client.messages.batches.create({ requests });
  await client.messages.batches.retrieve(b.id);
  const lines = await collect(await client.messages.batches.results(b.id));
  return Object.fromEntries(lines.map((l: ResultLine) => [l.custom_id, l.result])) as Record<
    string,
    Anthropic.Messages.MessageBatchResult
  >;
}

function usageOf(r: Anthropic.Messages.MessageBatchResult | undefined): Anthropic.Messages.Usage {
  if (r?.type !== 'succeeded') throw new Error(`not succeeded: ${JSON.stringify(r)}`);
  return r.message.usage;
}

describe('prompt caching in batches', () => {
  it('a shared cache_control prefix is written once and read by the rest of the batch', async () => {
    const { client } = await start();
    const questions = [
      'Is this spam?',
      'Is this ham?',
      'Classify: buy now',
      'Classify: hello mum',
      'And this?',
    ];
    const res = await run(
      client,
      questions.map((q, i) => cachedReq(`c${i}`, q)),
    );
    const first = usageOf(res.c0);
    expect(first.cache_creation_input_tokens).toBe(200);
    expect(first.cache_creation).toEqual({ ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 0 });
    expect(first.cache_read_input_tokens).toBe(0);
    expect(first.input_tokens).toBe(Math.ceil((800 + questions[0]!.length) / 4) - 200);
    for (let i = 1; i < questions.length; i++) {
      const u = usageOf(res[`c${i}`]);
      expect(u.cache_read_input_tokens).toBe(200);
      expect(u.cache_creation_input_tokens).toBe(0);
      expect(u.input_tokens).toBe(Math.ceil((800 + questions[i]!.length) / 4) - 200);
    }

    // the cache is scoped to one batch: the next batch pays the creation again
    const again = await run(client, [cachedReq('n0', 'x?'), cachedReq('n1', 'y?')]);
    expect(usageOf(again.n0).cache_creation_input_tokens).toBe(200);
    expect(usageOf(again.n1).cache_read_input_tokens).toBe(200);
  });

  it('honours ttl 1h, the minimum cacheable length, and param-level cache_control', async () => {
    const { client } = await start();
    const oneHour = await run(client, [cachedReq('h0', 'q1', '1h'), cachedReq('h1', 'q2', '1h')]);
    expect(usageOf(oneHour.h0).cache_creation).toEqual({
      ephemeral_5m_input_tokens: 0,
      ephemeral_1h_input_tokens: 200,
    });
    expect(usageOf(oneHour.h1).cache_read_input_tokens).toBe(200);

    const shortSystem = (id: string) =>
      rawReq(id, {
        model: MODEL,
        max_tokens: 16,
        system: [{ type: 'text', text: 'short system prompt', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'hello' }],
      });
    const short = await run(client, [shortSystem('s0'), shortSystem('s1')]);
    for (const r of Object.values(short)) {
      expect(usageOf(r).cache_creation_input_tokens).toBe(0);
      expect(usageOf(r).cache_read_input_tokens).toBe(0);
    }

    // param-level cache_control marks the last block; a system breakpoint is shared, the tail is not
    const auto = (id: string, question: string) =>
      rawReq(id, {
        model: MODEL,
        max_tokens: 16,
        cache_control: { type: 'ephemeral' },
        system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: question.repeat(100) }],
      });
    const multi = await run(client, [auto('m0', 'abcd'), auto('m1', 'wxyz'), auto('m2', 'abcd')]);
    expect(usageOf(multi.m0)).toMatchObject({
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 0,
      input_tokens: 0,
    });
    expect(usageOf(multi.m1)).toMatchObject({
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 200,
      input_tokens: 0,
    });
    expect(usageOf(multi.m2)).toMatchObject({
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 300,
      input_tokens: 0,
    });
  });
});

describe('POST /v1/messages (real-time)', () => {
  it('answers a full Message with service_tier standard, deterministically', async () => {
    const { client } = await start();
    const params = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello!' }] };
    const m = await client.messages.create(params);
    expectMessageShape(m, 'standard');
    expect(m.model).toBe(MODEL);
    expect(m._request_id).toMatch(/^req_/);
    const again = await client.messages.create(params);
    expect(again.id).toBe(m.id);
    expect(again.content).toEqual(m.content);
  });

  it('caches a prefix for 5 minutes of emulator time', async () => {
    const { emu, client } = await start();
    const params = {
      model: MODEL,
      max_tokens: 16,
      system: [{ type: 'text' as const, text: SYSTEM, cache_control: { type: 'ephemeral' as const } }],
      messages: [{ role: 'user' as const, content: 'Q' }],
    };
    expect((await client.messages.create(params)).usage.cache_creation_input_tokens).toBe(200);
    emu.clock.advance(4 * 60_000);
    expect((await client.messages.create(params)).usage.cache_read_input_tokens).toBe(200);
    emu.clock.advance(4 * 60_000); // the read refreshed it
    expect((await client.messages.create(params)).usage.cache_read_input_tokens).toBe(200);
    emu.clock.advance(5 * 60_000 + 1);
    const expired = await client.messages.create(params);
    expect(expired.usage.cache_read_input_tokens).toBe(0);
    expect(expired.usage.cache_creation_input_tokens).toBe(200);
  });

  it('rejects stream: true and invalid params with 400; faults apply', async () => {
    const { emu, client } = await start();
    const err = await client.messages
      .create({ model: MODEL, max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const bad = (await client.messages
      .create({ model: MODEL, max_tokens: 16, messages: [] })
      .catch((e: unknown) => e)) as ApiError;
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad.apiMessage).toMatch(/^messages: /);
    emu.control.injectFault(statusFault('messages', 529, { retryAfterSec: 0.01 }));
    const m = await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(m.usage.service_tier).toBe('standard');
    expect(emu.inspect.stats().messagesServed).toBe(1);
  });
});

describe('inference_geo (data residency)', () => {
  it('reports where inference ran, refuses it on models before 4.6, and applies the workspace default', async () => {
    const e = await startEmulator({ quiet: true, inferenceGeo: 'global' });
    try {
      const c = new Anthropic({ apiKey: 'k', baseURL: e.url, maxRetries: 0 });
      const ask = (model: string, extra: Record<string, unknown> = {}) =>
        c.messages.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }], ...extra });
      expect((await ask('claude-sonnet-4-6', { inference_geo: 'us' })).usage.inference_geo).toBe('us');
      expect((await ask('claude-opus-5-5')).usage.inference_geo).toBe('global');
      expect((await ask('claude-haiku-4-5')).usage.inference_geo).toBeNull();
      await expect(ask('claude-haiku-4-5', { inference_geo: 'us' })).rejects.toBeInstanceOf(
        Anthropic.BadRequestError,
      );
      const b = await c.messages.batches.create({
        requests: [
          {
            custom_id: 'old',
            params: {
              model: 'claude-opus-4-5',
              max_tokens: 8,
              messages: [{ role: 'user', content: 'hi' }],
              inference_geo: 'us',
            },
          },
        ],
      });
      await c.messages.batches.retrieve(b.id);
      const lines = [];
      for await (const l of await c.messages.batches.results(b.id)) lines.push(l);
      expect(lines[0]!.result).toMatchObject({
        type: 'errored',
        error: {
          error: { type: 'invalid_request_error', message: expect.stringMatching(/^inference_geo:/) },
        },
      });
    } finally {
      await e.close();
    }
  });
});

describe('responder', () => {
  it('answers one of the labels of a "Labels:" line, deterministically', async () => {
    const { client } = await start();
    const labels = ['billing', 'bug', 'feature-request', 'other'];
    const requests = Array.from({ length: 20 }, (_, i) =>
      req(
        `l${i}`,
        `Ticket #${i}: my invoice is wrong.\nLabels: ${labels.join(', ')}\nAnswer with one label.`,
      ),
    );
    const res = await run(client, requests);
    const answers = Object.values(res).map((r) => (r.type === 'succeeded' ? r.message.content : null));
    for (const content of answers) {
      expect(content).toHaveLength(1);
      const block = content![0]!;
      expect(block.type === 'text' && labels.includes(block.text)).toBe(true);
    }
    expect(new Set(answers.map((c) => JSON.stringify(c))).size).toBeGreaterThan(1);
    expect(defaultRespond({ params: requests[0]!.params })).toBe(
      defaultRespond({ params: requests[0]!.params }),
    );
  });

  it('truncates to max_tokens, stops at stop sequences, and uses a custom respond', async () => {
    const { client } = await start({
      respond: ({ customId, params }) =>
        customId === 'custom' ? `custom answer for ${params.model}` : defaultRespond({ params }),
    });
    const res = await run(client, [
      req('short', 'Tell me a long story please', { max_tokens: 3 }),
      req('stop', 'Tell me something', { stop_sequences: ['emulated'] }),
      req('custom', 'anything'),
    ]);
    const short = res.short!;
    expect(short.type).toBe('succeeded');
    if (short.type === 'succeeded') {
      expect(short.message.stop_reason).toBe('max_tokens');
      expect(short.message.usage.output_tokens).toBe(3);
      const block = short.message.content[0]!;
      expect(block.type === 'text' && block.text.length).toBeLessThanOrEqual(12);
    }
    const stop = res.stop!;
    if (stop.type === 'succeeded') {
      expect(stop.message.stop_reason).toBe('stop_sequence');
      expect(stop.message.stop_sequence).toBe('emulated');
    } else throw new Error('expected success');
    const custom = res.custom!;
    if (custom.type === 'succeeded') {
      expect(custom.message.content).toEqual([
        { type: 'text', text: `custom answer for ${MODEL}`, citations: null },
      ]);
    } else throw new Error('expected success');
  });
});
