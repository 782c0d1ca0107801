import { request } from 'node:http';
import { type DeadLetterPayload, jobIds } from '@nightshift/shared';
import { addDeadLetters, createRedis, openQueue } from '@nightshift/store';
import { silentLogger, uniquePrefix, useRedis } from '@nightshift/testing';
import { type Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board, BoardOptions } from '../src/index.js';
import { basic, csrfToken, item, memoryLogger, type Seeded, seed, startBoard } from './helpers.js';

// The outside review's attacks, replayed over real HTTP against a real board and Redis.

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
const toClose: { close(): Promise<unknown> }[] = [];

afterAll(async () => {
  for (const c of toClose.reverse()) await c.close();
});

async function open(over: Partial<BoardOptions> = {}, prefix = uniquePrefix()) {
  const seeded = await seed(fx.redis, prefix);
  const log = memoryLogger();
  const board = await startBoard(fx.redis, prefix, { logger: log.logger, ...over });
  toClose.push(seeded.deadLetters, board);
  return { board, seeded, prefix, log, port: Number(new URL(board.url).port) };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request as a browser or an attacker sends it: any `Host` (fetch would not let us forge it),
 * from any local address (127.0.0.0/8 is all loopback on Linux, so clients can differ).
 */
function raw(
  port: number,
  path: string,
  o: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    from?: string;
    setHost?: boolean;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: o.method ?? 'GET',
        setHost: o.setHost ?? true,
        ...(o.from ? { localAddress: o.from } : {}),
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...o.headers },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('a DNS-rebinding page (foreign Host) on a board without credentials', () => {
  it('gets 421 before any route, without the page or its CSRF token, and cannot act', async () => {
    const { board, seeded, port, log } = await open();
    const token = await csrfToken(board.url);
    for (const path of [
      '/',
      '/api/overview?fragments=1',
      '/queues',
      '/queues/api/queues',
      '/metrics',
      '/healthz',
    ]) {
      for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]) {
        const res = await raw(port, path, { headers: { host } });
        expect(res.status, `${host} ${path}`).toBe(421);
        expect(res.body).not.toContain(token);
        expect(res.body).not.toContain('csrf');
      }
    }
    // What the rebinding page did in the review: "retry all" and pause a queue, as its own origin.
    const attacker = {
      host: `evil.example:${port}`,
      origin: `http://evil.example:${port}`,
      'sec-fetch-site': 'same-origin',
    };
    const retry = await raw(port, '/api/dead-letters/retry-all', {
      method: 'POST',
      headers: { ...attacker, 'x-csrf-token': token },
    });
    expect(retry.status).toBe(421);
    const pause = await raw(port, '/queues/api/queues/%7Bflush%7D/pause', {
      method: 'PUT',
      headers: attacker,
    });
    expect(pause.status).toBe(421);
    expect((await seeded.store.records.get('c3'))?.state).toBe('dead');
    const flush = openQueue('flush', fx.redis, seeded.store.prefix);
    expect(await flush.isPaused()).toBe(false);
    await flush.close();
    // No Host at all: Node's HTTP server itself answers 400.
    expect((await raw(port, '/', { setHost: false })).status).toBe(400);
    // Loopback names, with or without the port, in any case.
    for (const host of [
      `localhost:${port}`,
      'localhost',
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      'LOCALHOST',
    ]) {
      expect((await raw(port, '/', { headers: { host } })).status, host).toBe(200);
    }
    // Logged once per foreign name, not once per request.
    const refusals = log.lines().filter((l) => String(l.msg).includes('does not serve'));
    expect(refusals.map((l) => l.host).sort()).toEqual(['127.0.0.1.evil.example', 'evil.example']);
  });

  it('answers the names the operator lists; a leading dot admits that domain and its subdomains', async () => {
    const { port } = await open({ allowedHosts: ['board.internal', '.ops.example.com'] });
    for (const host of ['board.internal:8080', 'ops.example.com', 'a.ops.example.com', 'localhost']) {
      expect((await raw(port, '/', { headers: { host } })).status, host).toBe(200);
    }
    for (const host of ['evilops.example.com', 'board.internal.evil.example', 'example.com']) {
      expect((await raw(port, '/', { headers: { host } })).status, host).toBe(421);
    }
  });

  it('with credentials, checks Host only when names are listed', async () => {
    const auth = { user: 'ops', password: 'pw-correct-horse' };
    const creds = { authorization: basic(auth.user, auth.password) };
    const open1 = await open({ auth });
    expect((await raw(open1.port, '/', { headers: { ...creds, host: 'board.example.com' } })).status).toBe(
      200,
    );
    const open2 = await open({ auth, allowedHosts: ['board.example.com'] });
    expect((await raw(open2.port, '/', { headers: { ...creds, host: 'board.example.com' } })).status).toBe(
      200,
    );
    expect((await raw(open2.port, '/', { headers: { ...creds, host: 'evil.example' } })).status).toBe(421);
  });
});

describe('guessing the board password', () => {
  it('is refused after 10 failures per client, even with the right password, on every replica; failures are logged without the secret', async () => {
    const auth = { user: 'ops', password: 'pw-correct-horse' };
    const { port, prefix, log } = await open({ auth });
    const replica = await startBoard(fx.redis, prefix, { auth, logger: silentLogger });
    toClose.push(replica);
    const guesses = Array.from({ length: 10 }, (_, i) => `guess-${i}-SECRET`);
    for (const [i, guess] of guesses.entries()) {
      const user = i % 2 ? 'ops' : `admin${i}`;
      const res = await raw(port, '/', { headers: { authorization: basic(user, guess) } });
      expect(res.status, guess).toBe(401);
    }
    const right = { authorization: basic(auth.user, auth.password) };
    const blocked = await raw(port, '/', { headers: right });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(800);
    // The count lives in Redis: another replica refuses the same client.
    expect((await raw(Number(new URL(replica.url).port), '/', { headers: right })).status).toBe(429);
    // Another client is not affected.
    expect((await raw(port, '/', { headers: right, from: '127.0.0.2' })).status).toBe(200);
    // No credentials at all is the browser's first request, not a failure.
    expect((await raw(port, '/', { from: '127.0.0.3' })).status).toBe(401);

    const failures = log.lines().filter((l) => String(l.msg).startsWith('board login failed'));
    expect(failures).toHaveLength(10);
    expect(failures[0]).toMatchObject({ client: '127.0.0.1', scheme: 'basic', knownUser: false });
    expect(failures[1]).toMatchObject({ knownUser: true });
    expect(failures[9]?.msg).toContain('refused for 15 min');
    const all = JSON.stringify(log.lines());
    for (const guess of guesses) expect(all).not.toContain(guess);
    expect(all).not.toContain('admin0');
  });
});

describe("Bull Board's write API on a read-write board", () => {
  let ctx: Awaited<ReturnType<typeof open>>;
  let results: Queue;
  const headers = { authorization: basic('ops', 'pw-correct-horse'), 'sec-fetch-site': 'same-origin' };
  const put = (path: string, body?: unknown, method = 'PUT') =>
    raw(ctx.port, `/queues/api/queues/${path}`, { method, headers, body });

  beforeAll(async () => {
    ctx = await open({ auth: { user: 'ops', password: 'pw-correct-horse' } });
    results = openQueue('results', fx.redis, ctx.prefix);
    toClose.push(results);
    // One delivered result job (kept a day, as while a webhook endpoint wants request.succeeded:
    // by default a handled result job is removed at once) and one whose handler failed for good.
    await results.add(
      'docs',
      { results: [] },
      { jobId: 'res-done', attempts: 1, removeOnComplete: { age: 86_400 } },
    );
    await results.add('docs', { results: [] }, { jobId: 'res-failed', attempts: 1 });
    const connection = (fx.redis as Redis).duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker(
      results.name,
      async (job) => {
        if (job.id === 'res-failed') throw new Error('handler failed');
      },
      { connection, prefix: ctx.prefix },
    );
    await new Promise<void>((resolve) => {
      let n = 0;
      const done = () => void (++n === 2 && resolve());
      worker.on('completed', done);
      worker.on('failed', done);
    });
    await worker.close();
    connection.disconnect();
  });

  it('refuses forged results, removed schedulers and lost outcomes, and audits each attempt', async () => {
    const before = await results.getJobCounts();
    const refused: [string, unknown, string?][] = [
      ['%7Bresults%7D/add', { name: 'docs', data: { results: [{ customId: 'forged' }] } }, 'POST'],
      ['%7Bresults%7D/res-done/update-data', { data: { results: [{ customId: 'forged' }] } }, 'PATCH'],
      ['%7Bresults%7D/res-done/retry', undefined],
      ['%7Bresults%7D/retry/completed', undefined],
      ['%7Bresults%7D/empty', undefined],
      ['%7Bdead-letters%7D/clean/waiting', undefined],
      ['%7Bdead-letters%7D/obliterate', undefined],
      ['%7Bflush%7D/job-schedulers/flush-tick/remove', undefined],
      ['%7Bflush%7D/job-schedulers/flush-tick', { repeat: { every: 1 } }, 'PATCH'],
      ['%7Bflush%7D/concurrency', { concurrency: 5 }],
      ['%7Bdead-letters%7D/dead-c3-1/clean', undefined],
    ];
    for (const [path, body, method] of refused) {
      const res = await put(path, body, method);
      expect(res.status, path).toBe(403);
      expect(res.body, path).toContain('Refused by Nightshift');
    }
    expect(await results.getJobCounts()).toEqual(before);
    expect((await results.getJob('res-done'))?.data).toEqual({ results: [] });
    const flush = openQueue('flush', fx.redis, ctx.prefix);
    expect(await flush.getJobScheduler(jobIds.flushScheduler)).toBeTruthy();
    expect(await flush.getGlobalConcurrency()).toBeNull();
    await flush.close();
    expect(await ctx.seeded.deadLetters.getJob('dead-c3-1')).toBeDefined();

    const audits = ctx.log.lines().filter((l) => l.audit === true);
    expect(audits).toHaveLength(refused.length);
    expect(audits[0]).toMatchObject({
      actor: 'ops',
      client: '127.0.0.1',
      action: 'bull-board: add job',
      queue: '{results}',
      outcome: 'refused',
    });
    expect(audits[7]).toMatchObject({ action: 'bull-board: remove scheduler', job: 'flush-tick' });
  });

  it('allows retrying a failed delivery and pausing a queue (audited), and shows the pause as red liveness', async () => {
    const start = ctx.log.lines().filter((l) => l.audit === true).length;
    expect((await put('%7Bresults%7D/res-failed/retry')).status).toBe(204);
    expect(await (await results.getJob('res-failed'))?.getState()).toBe('waiting');
    expect((await put('%7Bflush%7D/pause')).status).toBe(200);
    const overview = JSON.parse(
      (await raw(ctx.port, '/api/overview', { headers: { authorization: headers.authorization } })).body,
    ) as { liveness: { batcher: { state: string } } };
    expect(overview.liveness.batcher.state).not.toBe('ok');
    expect((await put('%7Bflush%7D/resume')).status).toBe(200);
    // Our own actions are audited the same way.
    const token = await csrfToken(ctx.board.url, { authorization: headers.authorization });
    const retried = await raw(ctx.port, '/api/dead-letters/dead-c3-1/retry', {
      method: 'POST',
      headers: { ...headers, 'x-csrf-token': token },
    });
    expect(retried.status).toBe(200);
    const audits = ctx.log
      .lines()
      .filter((l) => l.audit === true)
      .slice(start);
    expect(audits.map((a) => [a.action, a.outcome])).toEqual([
      ['bull-board: retry job', 'allowed'],
      ['bull-board: pause queue', 'allowed'],
      ['bull-board: resume queue', 'allowed'],
      ['retry dead letter', 'allowed'],
    ]);
    expect(audits[3]).toMatchObject({ actor: 'ops', queue: '{dead-letters}', job: 'dead-c3-1', status: 200 });
  });
});

describe('liveness', () => {
  it('turns red when the scheduler that gives a role its work is gone, though its processes beat', async () => {
    const { port, prefix } = await open();
    const overview = async () =>
      (JSON.parse((await raw(port, '/api/overview')).body) as { liveness: { collector: { state: string } } })
        .liveness.collector.state;
    expect(await overview()).toBe('ok');
    const collect = openQueue('collect', fx.redis, prefix);
    await collect.removeJobScheduler(jobIds.collectScheduler);
    await collect.close();
    expect(await overview()).toBe('no-scheduler');
    expect((await raw(port, '/')).body).toContain('NO SCHEDULER');
  });
});

describe('what Bull Board shows', () => {
  it('hides Redis INFO and client lists unless the operator opts in', async () => {
    const hidden = await open();
    expect((await raw(hidden.port, '/queues/api/redis/stats')).status).toBe(403);
    expect((await raw(hidden.port, '/queues/api/queues/%7Bflush%7D/workers')).status).toBe(403);
    expect((await raw(hidden.port, '/queues')).body).toMatch(/"hideRedisDetails":true/);
    const shown = await open({ redisDetails: true });
    const stats = await raw(shown.port, '/queues/api/redis/stats');
    expect(stats.status).toBe(200);
    expect(JSON.parse(stats.body)).toHaveProperty('version');
    expect((await raw(shown.port, '/queues/api/queues/%7Bflush%7D/workers')).status).toBe(200);
  });

  it('caps the page size and does not load large job data for a list', async () => {
    const { port, seeded } = await open();
    const letters = Array.from({ length: 60 }, (_, i) => ({
      payload: { ...deadPayload(`x${i}`), params: JSON.parse(item(`x${i}`).params) },
      deaths: 1,
    }));
    await addDeadLetters(seeded.deadLetters, letters);
    // A dead letter of 300 KB (its request's prompt), newest: first on Bull Board's page.
    const big = 'lorem ipsum '.repeat(25_000);
    await addDeadLetters(seeded.deadLetters, [
      {
        payload: {
          ...deadPayload('c3'),
          params: { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: big }] },
        },
        deaths: 2,
      } as never,
    ]);
    const page = await raw(
      port,
      '/queues/api/queues?activeQueue=%7Bdead-letters%7D&status=waiting&page=1&jobsPerPage=300',
    );
    const { queues } = JSON.parse(page.body) as {
      queues: { name: string; jobs: { id: string; data: unknown }[] }[];
    };
    const dead = queues.find((q) => q.name === '{dead-letters}')!;
    expect(dead.jobs).toHaveLength(50);
    expect(dead.jobs[0]).toMatchObject({
      id: 'dead-c3-2',
      data: { note: expect.stringMatching(/not loaded/) },
    });
    expect(page.body.length).toBeLessThan(200_000);
    // Its own page has the data, long texts cut for the browser.
    const one = await raw(port, '/queues/api/queues/%7Bdead-letters%7D/dead-c3-2');
    expect(one.body).toMatch(/more characters\]/);
    expect(one.body.length).toBeLessThan(20_000);
    // The overview reads the large one's fields from the request's record.
    const list = JSON.parse((await raw(port, '/api/dead-letters?limit=1000')).body) as {
      items: { jobId: string; reason: string }[];
    };
    expect(list.items.find((d) => d.jobId === 'dead-c3-2')?.reason).toBe('invalid_request');
  });
});

function deadPayload(cid: string): Omit<DeadLetterPayload, 'params'> {
  return {
    customId: cid,
    feature: 'classify-docs',
    model: 'claude-haiku-4-5',
    reason: 'invalid_request',
    lastError: { type: 'invalid_request_error', message: 'bad' },
    attempts: [],
    batchId: null,
    metadata: null,
    deadAt: Date.now(),
  };
}

describe('stored values of any shape', () => {
  it('still render: a deadline of 1e20, a dead letter of nonsense', async () => {
    const { board, seeded }: { board: Board; seeded: Seeded } = await open();
    // What an earlier version accepted, written straight into the store.
    await seeded.store.records.enqueue([item('huge-deadline', { deadline: 1e20 })], { now: Date.now() });
    await seeded.deadLetters.add(
      'x',
      { customId: 5, deadAt: 1e300, lastError: 'nope', attempts: 'many' } as never,
      {
        jobId: 'dead-odd-1',
      },
    );
    const page = await fetch(`${board.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('out of range');
    expect((await fetch(`${board.url}/api/overview?fragments=1`)).status).toBe(200);
    const list = (await (await fetch(`${board.url}/api/dead-letters`)).json()) as {
      items: { jobId: string; customId: string }[];
    };
    expect(list.items.find((d) => d.jobId === 'dead-odd-1')?.customId).toBe('odd');
  });
});
