import { createRedis } from '@nightshift/store';
import { storeKeys } from '@nightshift/store/testing';
import { freePort, uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { csrfToken, seed, startBoard } from './helpers.js';

// Several board processes behind one load balancer: a page served by one replica must be able to
// post to another, so the CSRF token is shared through Redis, not made per process.
const fx = useRedis((url) => createRedis({ url: url }, 'client'));
const boards: Board[] = [];

afterAll(async () => {
  await Promise.all(boards.map((b) => b.close()));
});

describe('board replicas', () => {
  it('accept each other’s CSRF token: a page from replica A posts to replica B', async () => {
    const prefix = uniquePrefix();
    const seeded = await seed(fx.redis, prefix);
    const a = await startBoard(fx.redis, prefix);
    const b = await startBoard(fx.redis, prefix);
    boards.push(a, b);
    const token = await csrfToken(a.url);
    expect(await csrfToken(b.url)).toBe(token);
    const res = await fetch(`${b.url}/api/dead-letters/${seeded.deadJobId}/retry`, {
      method: 'POST',
      headers: { origin: new URL(b.url).origin, 'sec-fetch-site': 'same-origin', 'x-csrf-token': token },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await seeded.deadLetters.close();
    // Another deployment (prefix) has a token of its own.
    const other = await startBoard(fx.redis, uniquePrefix());
    boards.push(other);
    expect(await csrfToken(other.url)).not.toBe(token);
  });

  it('still starts without Redis, with a token of its own', async () => {
    const down = createRedis({ url: `redis://127.0.0.1:${await freePort()}` }, 'client');
    down.on('error', () => {});
    const prefix = uniquePrefix();
    const board = await startBoard(down, prefix);
    boards.push(board);
    expect(await fx.redis.exists(storeKeys(prefix).boardCsrf)).toBe(0);
    const res = await fetch(`${board.url}/healthz`);
    expect(res.status).toBe(503);
    down.disconnect();
  });
});
