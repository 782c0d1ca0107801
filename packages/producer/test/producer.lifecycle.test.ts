import Anthropic from '@anthropic-ai/sdk';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createRedis, Store } from '@nightshift/store';
import { silentLogger, uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer, ModelRetiredError, type Producer, ValidationError } from '../src/index.js';
import { docRequest } from './helpers.js';

// What the price table knows about models, applied at enqueue: retired models are refused naming
// the replacement, deprecated ones warn (log and board alert), and params a model rejects are
// refused before anything is written.

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let emu: Emulator;
const producers: Producer[] = [];
const warnings: { obj: unknown; msg: string }[] = [];
const logger = new Proxy(silentLogger, {
  get: (t, k) =>
    k === 'warn' ? (obj: unknown, msg: string) => warnings.push({ obj, msg }) : Reflect.get(t, k),
});
const DAY = (d: string) => Date.parse(`${d}T12:00:00Z`);

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
});
afterAll(async () => {
  await Promise.all(producers.map((p) => p.close()));
  await emu.close();
});

function make(day: string) {
  const prefix = uniquePrefix();
  const client = new Anthropic({ apiKey: 'k', baseURL: emu.url, maxRetries: 0 });
  const p = createProducer({ connection: fx.redis, prefix, client, logger, now: () => DAY(day) });
  producers.push(p);
  return { p, store: new Store(fx.redis, prefix) };
}

const withModel = (i: number, model: string, extra: Record<string, unknown> = {}) => {
  const r = docRequest(i);
  return { ...r, params: { ...r.params, model, ...extra } };
};

describe('a retired model', () => {
  it('is refused with a typed error naming the replacement; nothing is written', async () => {
    const { p, store } = make('2026-12-02');
    const err = await p
      .enqueueMany([docRequest(1), withModel(2, 'claude-sonnet-4-5-20250929')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelRetiredError);
    expect(err).toBeInstanceOf(ValidationError);
    const e = err as ModelRetiredError;
    expect(e.code).toBe('MODEL_RETIRED');
    expect(e.retired).toEqual([
      { model: 'claude-sonnet-4-5-20250929', retiredOn: '2026-11-30', replacement: 'claude-sonnet-4-6' },
    ]);
    expect(e.issues).toEqual([
      {
        index: 1,
        field: 'params.model',
        message:
          'claude-sonnet-4-5-20250929 was retired on 2026-11-30 and the API refuses it: use claude-sonnet-4-6',
      },
    ]);
    expect((await store.pending.overview(DAY('2026-12-02'))).total).toBe(0);
  });

  it('is still accepted the day before it retires, as a deprecated model', async () => {
    const { p } = make('2026-11-29');
    expect((await p.enqueue(withModel(1, 'claude-sonnet-4-5'))).outcome).toBe('queued');
  });
});

describe('a deprecated model', () => {
  it('is accepted, logged once and shown on the board as an alert naming its retirement and replacement', async () => {
    const { p, store } = make('2026-12-02');
    warnings.length = 0;
    await p.enqueue(withModel(1, 'claude-opus-4-5'));
    await p.enqueueMany([withModel(2, 'claude-opus-4-5'), withModel(3, 'claude-opus-4-5')]);
    expect(warnings.filter((w) => w.msg.includes('deprecated'))).toHaveLength(1);
    const alerts = await store.alerts.list();
    expect(alerts).toEqual([
      expect.objectContaining({
        code: 'model-deprecated',
        model: 'claude-opus-4-5',
        message:
          'Model claude-opus-4-5 is deprecated and retires on 2027-01-22: move to claude-opus-5-5 (enqueue refuses it once retired).',
      }),
    ]);
    expect((await store.pending.overview(DAY('2026-12-02'))).total).toBe(3);
  });

  it('an active model raises nothing', async () => {
    const { p, store } = make('2026-12-02');
    await p.enqueue(docRequest(1));
    expect(await store.alerts.list()).toEqual([]);
  });
});

describe('params a model rejects', () => {
  it('inference_geo on a model before 4.6 is a ValidationError naming the field', async () => {
    const { p } = make('2026-12-02');
    const err = await p
      .enqueue(withModel(1, 'claude-haiku-4-5', { inference_geo: 'us' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual([
      {
        field: 'params.inference_geo',
        message:
          'is refused by claude-haiku-4-5 (data residency needs Opus or Sonnet 4.6 or later): remove it or use such a model',
      },
    ]);
    const bad = await p
      .enqueue(withModel(2, 'claude-sonnet-4-6', { inference_geo: 7 }))
      .catch((e: unknown) => e);
    expect((bad as ValidationError).issues[0]?.field).toBe('params.inference_geo');
  });

  it('inference_geo on Sonnet 4.6 is accepted', async () => {
    const { p } = make('2026-12-02');
    const r = await p.enqueue(withModel(1, 'claude-sonnet-4-6', { inference_geo: 'us' }));
    expect(r.outcome).toBe('queued');
  });
});
