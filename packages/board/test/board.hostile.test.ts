import Anthropic from '@anthropic-ai/sdk';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createRedis } from '@nightshift/store';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { csrfToken, type ErrorBody, type Seeded, seed, startBoard } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let emu: Emulator;
let board: Board;
let seeded: Seeded;
let headers: Record<string, string>;

beforeAll(async () => {
  emu = await startEmulator({ processing: 'manual', quiet: true });
  const client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 0 });
  const prefix = uniquePrefix();
  seeded = await seed(fx.redis, prefix);
  board = await startBoard(fx.redis, prefix, { client });
  headers = {
    origin: new URL(board.url).origin,
    'sec-fetch-site': 'same-origin',
    'x-csrf-token': await csrfToken(board.url),
    accept: 'application/json',
  };
});
afterAll(async () => {
  await board.close();
  await seeded.deadLetters.close();
  await emu.close();
});

/** A POST with a valid CSRF token: only the path is hostile. */
const post = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${board.url}${path}`, { method: 'POST', headers, ...init });
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    type,
    body: (type.includes('json') ? await res.json() : await res.text()) as ErrorBody,
  };
};

// Path segments as a client could send them (percent-encoded where the URL parser would not keep them).
const BAD_IDS = [
  ['a slash', 'msgbatch_a%2F..%2F..%2Fetc'],
  ['a semicolon', 'msgbatch_x%3BFLUSHALL'],
  ['a space', 'msgbatch%20x'],
  ['a colon (Redis key separator)', 'msgbatch_x%3Ay'],
  ['unicode', 'msgbatch_%C3%BC%F0%9F%92%A5'],
  ['a NUL byte', 'msgbatch_x%00'],
  ['a newline (log injection)', 'msgbatch_x%0Aforged'],
  ['201 characters', `msgbatch_${'a'.repeat(192)}`],
  ['a glob pattern', 'msgbatch_*'],
];

describe('hostile ids on the board’s POST routes', () => {
  it.each(BAD_IDS)('cancel refuses a batch id with %s: 400 and a JSON error naming it', async (_, id) => {
    const calls = emu.inspect.stats().calls.cancel;
    const r = await post(`/api/batches/${id}/cancel`);
    expect(r.status).toBe(400);
    expect(r.type).toContain('application/json');
    expect(r.body.error).toMatch(/is not a batch id/);
    expect(emu.inspect.stats().calls.cancel).toBe(calls); // never reached the API
  });

  it.each(BAD_IDS)('retry refuses a dead-letter job id with %s: 400 and a JSON error', async (_, id) => {
    const r = await post(`/api/dead-letters/${id}/retry`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/is not a dead-letter job id/);
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeDefined(); // untouched
  });

  it('a malformed percent-encoding is a 400 with a JSON error, not a 500', async () => {
    for (const path of ['/api/batches/%E0%A4%A/cancel', '/api/dead-letters/%ZZ/retry']) {
      const r = await post(path);
      expect(r.status).toBe(400);
      expect(r.body.error).toBeTruthy();
    }
  });

  it('well-formed ids that name nothing (including __proto__ and constructor) are a 404, nothing changes', async () => {
    for (const id of ['msgbatch_doesnotexist', '__proto__', 'constructor', 'prototype']) {
      const cancel = await post(`/api/batches/${id}/cancel`);
      expect(cancel.status).toBe(404);
      expect(cancel.body.error).toMatch(/not known to Nightshift/);
      const retry = await post(`/api/dead-letters/${id}/retry`);
      expect(retry.status).toBe(404);
      expect(retry.body.error).toMatch(/not found/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeDefined();
  });

  it('an oversized form body is refused before anything runs (413)', async () => {
    const body = `_csrf=${'x'.repeat(8 * 1024)}`;
    const r = await post('/api/dead-letters/retry-all', {
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(r.status).toBe(413);
    expect(r.body.error).toBeTruthy();
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeDefined();
  });

  it('a prototype-pollution form body changes nothing', async () => {
    const r = await post(`/api/dead-letters/${id('nope')}/retry`, {
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: '__proto__[polluted]=1&constructor[prototype][polluted]=1',
    });
    expect(r.status).toBe(404);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

const id = (s: string) => encodeURIComponent(s);

describe('hostile query parameters on the board’s read routes', () => {
  it.each([
    ['/api/batches?limit=abc', /limit must be a whole number from 1 to 1000/],
    ['/api/batches?limit=0', /limit must be/],
    ['/api/batches?limit=1001', /limit must be/],
    ['/api/batches?limit=1e3', /limit must be/],
    ['/api/batches?limit=-1', /limit must be/],
    ['/api/batches?limit=1&limit=2', /limit must be/],
    ['/api/batches?offset=99999999999', /offset must be/],
    ['/api/costs?days=2', /days must be 1, 7 or 30/],
    ['/api/costs?days=%00', /days must be/],
    ['/api/dead-letters?limit=NaN', /limit must be/],
  ])('%s → 400 with a JSON error that names the parameter', async (path, message) => {
    const res = await fetch(`${board.url}${path}`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error).toMatch(message);
  });

  it('an unknown route is a JSON 404 and a GET on an action is a 405', async () => {
    const missing = await fetch(`${board.url}/api/../../etc/passwd`);
    expect(missing.status).toBe(404);
    const wrong = await fetch(`${board.url}/api/batches/msgbatch_x/cancel`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
