import { ConfigError, loadConfig } from '@nightshift/shared';
import { addDeadLetters, createRedis } from '@nightshift/store';
import { uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { boardOptionsFromConfig, isLoopback } from '../src/options.js';
import { basic, csrfToken, getJson, type Seeded, seed, startBoard } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
const opened: { board: Board; seeded: Seeded }[] = [];

afterAll(async () => {
  for (const o of opened) {
    await o.board.close();
    await o.seeded.deadLetters.close();
  }
});

async function open(over: Parameters<typeof startBoard>[2] = {}) {
  const prefix = uniquePrefix();
  const seeded = await seed(fx.redis, prefix);
  const board = await startBoard(fx.redis, prefix, over);
  opened.push({ board, seeded });
  return { board, seeded, origin: new URL(board.url).origin };
}

const PROTECTED = [
  '/',
  '/api/overview',
  '/api/batches',
  '/api/costs',
  '/api/dead-letters',
  '/api/requests',
  '/metrics',
  '/queues',
  '/queues/api/queues',
];

describe('basic auth', () => {
  it('guards every route but /healthz and compares both halves', async () => {
    const { board } = await open({ auth: { user: 'ops', password: 'pw-correct-horse' } });
    for (const path of PROTECTED) {
      const res = await fetch(`${board.url}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toMatch(/^Basic realm="Nightshift board"/);
      const ok = await fetch(`${board.url}${path}`, {
        headers: { authorization: basic('ops', 'pw-correct-horse') },
      });
      expect(ok.status, path).toBe(200);
    }
    for (const wrong of [
      basic('ops', 'pw-wrong'),
      basic('admin', 'pw-correct-horse'),
      'Bearer pw-correct-horse',
      'Basic !!!',
    ]) {
      expect((await fetch(`${board.url}/`, { headers: { authorization: wrong } })).status).toBe(401);
    }
    expect((await fetch(`${board.url}/healthz`)).status).toBe(200);
    const post = await fetch(`${board.url}/api/dead-letters/retry-all`, { method: 'POST' });
    expect(post.status).toBe(401);
  });
});

describe('token auth', () => {
  it('accepts the bearer token, or the token as a basic-auth password for browsers', async () => {
    const { board } = await open({ auth: { token: 'tok-0123456789abcdef' } });
    for (const path of PROTECTED) {
      expect((await fetch(`${board.url}${path}`)).status, path).toBe(401);
      const ok = await fetch(`${board.url}${path}`, {
        headers: { authorization: 'Bearer tok-0123456789abcdef' },
      });
      expect(ok.status, path).toBe(200);
    }
    expect(
      (await fetch(`${board.url}/`, { headers: { authorization: basic('anyone', 'tok-0123456789abcdef') } }))
        .status,
    ).toBe(200);
    expect((await fetch(`${board.url}/`, { headers: { authorization: 'Bearer tok-wrong' } })).status).toBe(
      401,
    );
  });
});

describe('where the board listens', () => {
  it('refuses a non-loopback address without credentials, naming the variables to set', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'board.example.com']) {
      const attempt = startBoard(fx.redis, uniquePrefix(), { host });
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toThrow(
        /NIGHTSHIFT_BOARD_USER.*NIGHTSHIFT_BOARD_PASSWORD.*NIGHTSHIFT_BOARD_TOKEN/s,
      );
    }
  });

  it('binds 0.0.0.0 once credentials are configured', async () => {
    const { board } = await open({ host: '0.0.0.0', auth: { token: 'tok-public-0123456789' } });
    const port = new URL(board.url).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/overview`, {
      headers: { authorization: 'Bearer tok-public-0123456789' },
    });
    expect(res.status).toBe(200);
  });

  it('listens on 127.0.0.1 by default and counts only loopback addresses as local', async () => {
    const { board } = await open();
    expect(new URL(board.url).hostname).toBe('127.0.0.1');
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com'])
      expect(isLoopback(h), h).toBe(false);
  });

  it('reads credentials from NIGHTSHIFT_BOARD_*; a half pair, both kinds or a weak secret stop start-up', () => {
    const auth = (env: Record<string, string>) => boardOptionsFromConfig(loadConfig(env)).auth;
    const strong = 'correct-horse-battery';
    expect(auth({})).toBeUndefined();
    expect(auth({ NIGHTSHIFT_BOARD_TOKEN: strong })).toEqual({ token: strong });
    expect(auth({ NIGHTSHIFT_BOARD_USER: 'u', NIGHTSHIFT_BOARD_PASSWORD: strong })).toEqual({
      user: 'u',
      password: strong,
    });
    const refused: [Record<string, string>, RegExp][] = [
      [
        { NIGHTSHIFT_BOARD_USER: 'u', NIGHTSHIFT_BOARD_PASSWORD: strong, NIGHTSHIFT_BOARD_TOKEN: strong },
        /not both/,
      ],
      // A password alone used to leave the board without any auth, silently.
      [
        { NIGHTSHIFT_BOARD_PASSWORD: strong },
        /NIGHTSHIFT_BOARD_USER: required when NIGHTSHIFT_BOARD_PASSWORD/,
      ],
      [{ NIGHTSHIFT_BOARD_USER: 'u' }, /NIGHTSHIFT_BOARD_PASSWORD: required/],
      [{ NIGHTSHIFT_BOARD_USER: 'u', NIGHTSHIFT_BOARD_PASSWORD: 'x' }, /at least 16 characters/],
      [{ NIGHTSHIFT_BOARD_USER: 'u', NIGHTSHIFT_BOARD_PASSWORD: 'a'.repeat(20) }, /one character repeated/],
      [{ NIGHTSHIFT_BOARD_USER: strong, NIGHTSHIFT_BOARD_PASSWORD: strong }, /not be the user name/],
      [{ NIGHTSHIFT_BOARD_TOKEN: 'short-token' }, /NIGHTSHIFT_BOARD_TOKEN: must be at least 16/],
    ];
    for (const [env, why] of refused) {
      let err: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(why);
      // The message names the variable and the rule, never the secret.
      for (const secret of [env.NIGHTSHIFT_BOARD_PASSWORD, env.NIGHTSHIFT_BOARD_TOKEN]) {
        if (secret && secret !== env.NIGHTSHIFT_BOARD_USER)
          expect((err as Error).message).not.toContain(secret);
      }
    }
  });

  it('refuses incomplete or weak credentials given to createBoard', async () => {
    await expect(
      startBoard(fx.redis, uniquePrefix(), { auth: { user: 'ops', password: '' } }),
    ).rejects.toThrow(/NIGHTSHIFT_BOARD_PASSWORD/);
    await expect(
      startBoard(fx.redis, uniquePrefix(), { auth: { user: 'ops', password: 'hunter2' } }),
    ).rejects.toThrow(/NIGHTSHIFT_BOARD_PASSWORD: the board password must be at least 16 characters/);
    await expect(startBoard(fx.redis, uniquePrefix(), { auth: { token: '' } })).rejects.toThrow(
      /NIGHTSHIFT_BOARD_TOKEN/,
    );
  });
});

describe('untrusted text', () => {
  it('is escaped wherever the page shows it', async () => {
    const { board, seeded } = await open();
    const evil = '<img src=x onerror=alert(1)>';
    const payload = {
      customId: 'c9',
      feature: `f${evil}`,
      model: 'claude-haiku-4-5',
      reason: `r${evil}`,
      lastError: { type: 'api_error', message: `"${evil}'` },
      attempts: [],
      batchId: null,
      params: { model: 'claude-haiku-4-5', max_tokens: 1, messages: [] },
      metadata: null,
      deadAt: 0,
    };
    await addDeadLetters(seeded.deadLetters, [{ payload, deaths: 1 }]);
    const page = await (await fetch(`${board.url}/`)).text();
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain(evil);
    const { fragments } = await getJson<{ fragments: Record<string, string> }>(
      `${board.url}/api/overview?fragments=1`,
    );
    expect(fragments['dead-letters']).not.toContain(evil);
  });
});

describe('read-only mode', () => {
  it('refuses every mutation with 403, hides the actions and puts Bull Board in read-only mode', async () => {
    const { board, seeded, origin } = await open({ readOnly: true });
    const token = await csrfToken(board.url);
    const headers = { origin, 'sec-fetch-site': 'same-origin', 'x-csrf-token': token };
    for (const path of [
      '/api/dead-letters/retry-all',
      `/api/dead-letters/${seeded.deadJobId}/retry`,
      `/api/batches/${seeded.batchId}/cancel`,
    ]) {
      const res = await fetch(`${board.url}${path}`, { method: 'POST', headers });
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/read-only/);
      expect((await fetch(`${board.url}${path}`)).status, `GET ${path}`).toBe(405);
    }
    const bb = await fetch(`${board.url}/queues/api/queues/%7Bdead-letters%7D/pause`, {
      method: 'PUT',
      headers,
    });
    expect(bb.status).toBe(403);
    const clean = await fetch(`${board.url}/queues/api/queues/%7Bdead-letters%7D/clean/waiting`, {
      method: 'PUT',
      headers,
    });
    expect(clean.status).toBe(403);
    const { queues } = await getJson<{ queues: { name: string; readOnlyMode: boolean }[] }>(
      `${board.url}/queues/api/queues`,
    );
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const page = await (await fetch(`${board.url}/`)).text();
    expect(page).toContain('read-only');
    expect(page).not.toContain('/retry"');
    expect(page).not.toContain('Retry all');
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeDefined();
    expect((await seeded.store.records.get('c3'))?.state).toBe('dead');
  });
});

describe('cross-site request protection', () => {
  it('requires the same origin and the CSRF token on every action', async () => {
    const { board, seeded, origin } = await open();
    const token = await csrfToken(board.url);
    const url = `${board.url}/api/dead-letters/${seeded.deadJobId}/retry`;
    const refused: [string, Record<string, string>][] = [
      ['cross-site Origin', { origin: 'https://evil.example', 'x-csrf-token': token }],
      ['cross-site fetch metadata', { 'sec-fetch-site': 'cross-site', 'x-csrf-token': token }],
      [
        'same-site is not same-origin',
        { 'sec-fetch-site': 'same-site', origin: 'http://other.localhost', 'x-csrf-token': token },
      ],
      ['opaque origin without fetch metadata', { origin: 'null', 'x-csrf-token': token }],
      ['missing token', { origin, 'sec-fetch-site': 'same-origin' }],
      ['wrong token', { origin, 'sec-fetch-site': 'same-origin', 'x-csrf-token': `${token}x` }],
    ];
    for (const [why, headers] of refused) {
      const res = await fetch(url, { method: 'POST', headers });
      expect(res.status, why).toBe(403);
    }
    expect((await seeded.store.records.get('c3'))?.state).toBe('dead');
    // A cross-site form post carrying a stolen token is still refused.
    const form = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: `_csrf=${encodeURIComponent(token)}`,
    });
    expect(form.status).toBe(403);
    expect((await fetch(url)).status).toBe(405);
    expect((await fetch(url)).headers.get('allow')).toBe('POST');
    // Behind a proxy that rewrites Host, the browser's fetch metadata is what counts.
    const proxied = await fetch(url, {
      method: 'POST',
      headers: {
        origin: 'https://board.example.com',
        'sec-fetch-site': 'same-origin',
        'x-csrf-token': token,
      },
    });
    expect(proxied.status).toBe(200);
    expect((await seeded.store.records.get('c3'))?.state).toBe('queued');
  });

  it('guards Bull Board writes by origin', async () => {
    const { board } = await open();
    const pause = `${board.url}/queues/api/queues/%7Bflush%7D/pause`;
    expect((await fetch(pause, { method: 'PUT', headers: { origin: 'https://evil.example' } })).status).toBe(
      403,
    );
    expect((await fetch(pause, { method: 'PUT', headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(
      403,
    );
    const same = { origin: new URL(board.url).origin, 'sec-fetch-site': 'same-origin' };
    expect((await fetch(pause, { method: 'PUT', headers: same })).status).toBe(200);
    const resume = await fetch(`${board.url}/queues/api/queues/%7Bflush%7D/resume`, {
      method: 'PUT',
      headers: same,
    });
    expect(resume.status).toBe(200);
  });

  it('keeps one CSRF token per deployment (prefix), different between deployments', async () => {
    const a = await open();
    const b = await open();
    expect(await csrfToken(a.board.url)).toBe(await csrfToken(a.board.url));
    expect(await csrfToken(a.board.url)).not.toBe(await csrfToken(b.board.url));
  });
});
