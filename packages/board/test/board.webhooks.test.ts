import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedis, type RedisClient, Store, WebhookEndpoints } from '@nightshift/store';
import { silentLogger, uniquePrefix, useRedis, waitFor } from '@nightshift/testing';
import { startWebhooks } from '@nightshift/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { csrfToken, getJson, item, memoryLogger, startBoard } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let worker: RedisClient;
let receiver: Server;
let accept = false;
const boards: Board[] = [];

beforeAll(async () => {
  worker = createRedis({ url: fx.url }, 'worker');
  receiver = createServer((req, res) => {
    req.resume();
    res.statusCode = accept ? 204 : 500;
    res.end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const b of boards) await b.close();
  await new Promise<void>((r) => receiver.close(() => r()));
  await worker.quit();
});

const okOf = async (r: Response) => ((await r.json()) as { ok: boolean }).ok;

async function open(readOnly = false) {
  const prefix = uniquePrefix();
  const log = memoryLogger();
  const board = await startBoard(fx.redis, prefix, { readOnly, logger: log.logger });
  boards.push(board);
  const token = await csrfToken(board.url);
  const same = { origin: new URL(board.url).origin, 'sec-fetch-site': 'same-origin' };
  const form = (path: string, fields: Record<string, string>) =>
    fetch(`${board.url}${path}`, {
      method: 'POST',
      headers: { ...same, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token, ...fields }).toString(),
      redirect: 'manual',
    });
  const post = (path: string) =>
    fetch(`${board.url}${path}`, { method: 'POST', headers: { ...same, 'x-csrf-token': token } });
  const bullBoard = (path: string) =>
    fetch(`${board.url}/queues/api/queues/${path}`, { method: 'PUT', headers: same });
  const audits = () => log.lines().filter((l) => l.audit === true);
  return { board, prefix, form, post, bullBoard, audits, store: new Store(fx.redis, prefix) };
}

describe('webhooks on the board', () => {
  it('registers an endpoint from the form, showing its secret once, and lists it without', async () => {
    const { board, form, store } = await open();
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const res = await form('/api/webhooks', {
      name: 'billing',
      url,
      'event.request.succeeded': 'on',
      'event.feature.drained': 'on',
      features: 'digest, summaries',
    });
    expect(res.status).toBe(200);
    const page = await res.text();
    const secret = /whsec_[A-Za-z0-9+/=]+/.exec(page)?.[0];
    expect(secret).toBeDefined();
    expect((await new WebhookEndpoints(store).get('billing'))?.secret).toBe(secret);
    const overview = await (await fetch(board.url)).text();
    expect(overview).toContain('billing');
    expect(overview).toContain('request.succeeded, feature.drained');
    expect(overview).not.toContain(secret!);
    const view = await getJson<{ endpoints: { name: string; features: string[] }[] }>(
      `${board.url}/api/webhooks`,
    );
    expect(view.endpoints).toEqual([
      expect.objectContaining({ name: 'billing', features: ['digest', 'summaries'] }),
    ]);
    expect(JSON.stringify(view)).not.toContain(secret!);
    const bad = await form('/api/webhooks', { name: 'billing', url: 'ftp://nope' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('url:');
  });

  it('lists failed deliveries, replays them (also from Bull Board), disables and enables an endpoint, audited', async () => {
    const { board, post, bullBoard, audits, prefix, store } = await open();
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    await new WebhookEndpoints(store).register({ name: 'svc', url, events: ['request.canceled'] });
    await store.records.enqueue([item('a'), item('b'), item('c')]);
    await store.records.cancel(['a', 'b', 'c']);
    // No nightshift-webhooks yet: the events wait in the outbox, which the fleet metrics show.
    expect(await (await fetch(`${board.url}/metrics`)).text()).toContain(
      'nightshift_webhook_outbox_backlog 3',
    );
    const hooks = await startWebhooks({
      connection: worker,
      prefix,
      attempts: 1,
      allowPrivate: true,
      logger: silentLogger,
    });
    try {
      type View = {
        endpoints: { name: string; failed: number; enabled: boolean }[];
        failed: { total: number; items: { jobId: string }[] };
      };
      await waitFor(async () => (await getJson<View>(`${board.url}/api/webhooks`)).failed.total === 3, {
        timeoutMs: 10_000,
        what: 'three failed deliveries on the board',
      });
      const view = await getJson<View>(`${board.url}/api/webhooks`);
      expect(view.endpoints[0]).toMatchObject({ name: 'svc', failed: 3 });
      const page = await (await fetch(board.url)).text();
      expect(page).toContain('data-testid="webhook-failed"');
      expect(page).toContain('Replay 3');
      // Bull Board's write policy: cleaning the deliveries is refused, retrying a failed one replays it.
      const [first, second] = view.failed.items.map((i) => encodeURIComponent(i.jobId));
      expect((await bullBoard('%7Bwebhooks%7D/clean/failed')).status).toBe(403);
      accept = true;
      expect((await bullBoard(`%7Bwebhooks%7D/${first}/retry`)).status).toBe(204);
      const one = await post(`/api/webhooks/deliveries/${second}/replay`);
      expect(await one.json()).toMatchObject({ ok: true, message: 'Replayed 1 failed delivery.' });
      const rest = await post('/api/webhooks/svc/replay');
      expect(await okOf(rest)).toBe(true);
      await waitFor(async () => (await getJson<View>(`${board.url}/api/webhooks`)).failed.total === 0, {
        timeoutMs: 10_000,
        what: 'the replayed deliveries to succeed',
      });
      expect(await okOf(await post('/api/webhooks/svc/disable'))).toBe(true);
      expect((await getJson<View>(`${board.url}/api/webhooks`)).endpoints[0]!.enabled).toBe(false);
      expect(await okOf(await post('/api/webhooks/svc/enable'))).toBe(true);
      expect((await post('/api/webhooks/nope/enable')).status).toBe(404);
      expect((await post('/api/webhooks/bad%20name/enable')).status).toBe(400);
      // A delivered job is not retried from Bull Board (it would reach the receiver again).
      expect((await bullBoard(`%7Bwebhooks%7D/${first}/retry`)).status).toBe(403);
      expect(audits().map((a) => [a.action, a.outcome])).toEqual([
        ['bull-board: clean jobs', 'refused'],
        ['bull-board: retry job', 'allowed'],
        ['replay webhook delivery', 'allowed'],
        ['replay webhook deliveries', 'allowed'],
        ['disable webhook endpoint', 'allowed'],
        ['enable webhook endpoint', 'allowed'],
        ['enable webhook endpoint', 'allowed'],
        ['enable webhook endpoint', 'allowed'],
        ['bull-board: retry job', 'refused'],
      ]);
      expect(audits()[3]).toMatchObject({ queue: '{webhooks}', endpoint: 'svc', status: 200 });
      expect(audits()[6]).toMatchObject({ endpoint: 'nope', status: 404 });
    } finally {
      accept = false;
      await hooks.close();
    }
  });

  it('refuses every webhook action when read-only, and without the CSRF token', async () => {
    const { board, post } = await open(true);
    expect((await post('/api/webhooks/svc/disable')).status).toBe(403);
    const { board: rw } = await open();
    const noToken = await fetch(`${rw.url}/api/webhooks/svc/replay`, {
      method: 'POST',
      headers: { origin: new URL(rw.url).origin, 'sec-fetch-site': 'same-origin' },
    });
    expect(noToken.status).toBe(403);
    expect(await (await fetch(board.url)).text()).not.toContain('webhook-register');
  });
});
