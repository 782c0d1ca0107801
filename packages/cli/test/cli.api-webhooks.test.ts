import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiTokens, createRedis, Store } from '@nightshift/store';
import { queuedItem, silentLogger, useRedis, waitFor } from '@nightshift/testing';
import { startWebhooks } from '@nightshift/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));

const cli = (args: string[], prefix: string) =>
  runCliCaptured(args, { REDIS_URL: fx.url, NIGHTSHIFT_PREFIX: prefix });

describe('nightshift api-token', () => {
  it('creates a scoped token shown once, lists it without the token, revokes it', async () => {
    const created = await cli(
      ['api-token', 'create', 'billing', '--features', 'digest,summaries', '--json'],
      'c1',
    );
    expect(created.code).toBe(0);
    const { token, id } = JSON.parse(created.out);
    expect(token).toMatch(/^nsk_/);
    const tokens = new ApiTokens(new Store(fx.redis, 'c1'));
    expect(await tokens.verify(token)).toMatchObject({ name: 'billing', features: ['digest', 'summaries'] });
    const listed = await cli(['api-token', 'list'], 'c1');
    expect(listed.out).toContain('billing');
    expect(listed.out).toContain('features digest,summaries');
    expect(listed.out).not.toContain(token);
    expect((await cli(['api-token', 'revoke', id], 'c1')).code).toBe(0);
    expect(await tokens.verify(token)).toBeNull();
    expect((await cli(['api-token', 'revoke', id], 'c1')).code).toBe(1);
    const bad = await cli(['api-token', 'create', 'has space'], 'c1');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('name');
    expect((await cli(['api-token', 'frobnicate'], 'c1')).code).toBe(2);
  });
});

describe('nightshift webhooks', () => {
  let receiver: Server;
  let accept = false;
  const got: string[] = [];
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      if (accept) got.push(String(req.headers['webhook-id']));
      res.statusCode = accept ? 204 : 500;
      // A hostile receiver's answer ends up in the failure reason the CLI prints.
      res.end(accept ? undefined : 'boom \x1b[2J\x1b[31mred');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

  it('adds an endpoint (secret shown once), lists, disables and enables it; lists and replays failed deliveries', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const added = await cli(['webhooks', 'add', 'svc', url, '--events', 'request.canceled'], 'c2');
    expect(added.code).toBe(0);
    const secret = /whsec_\S+/.exec(added.out)?.[0];
    expect(secret).toBeDefined();
    const listed = await cli(['webhooks', 'list'], 'c2');
    expect(listed.out).toContain('svc');
    expect(listed.out).toContain('request.canceled');
    expect(listed.out).not.toContain(secret!);
    expect((await cli(['webhooks', 'add', 'svc', url], 'c2')).code).toBe(1); // name taken
    expect((await cli(['webhooks', 'add', 'bad', 'ftp://x'], 'c2')).code).toBe(2);
    expect((await cli(['webhooks', 'disable', 'svc'], 'c2')).out).toContain('disabled');
    expect((await cli(['webhooks', 'list'], 'c2')).out).toContain('disabled (operator)');
    expect((await cli(['webhooks', 'enable', 'svc'], 'c2')).code).toBe(0);

    const worker = createRedis({ url: fx.url }, 'worker');
    const hooks = await startWebhooks({
      connection: worker,
      prefix: 'c2',
      attempts: 1,
      allowPrivate: true,
      logger: silentLogger,
    });
    const store = new Store(fx.redis, 'c2');
    const item = (cid: string) =>
      queuedItem(cid, { feature: 'f', model: 'm', phash: cid, group: 'g', bytes: 1 });
    await store.records.enqueue([item('a'), item('b')]);
    await store.records.cancel(['a', 'b']);
    await waitFor(
      async () =>
        (await cli(['webhooks', 'failed', '--json'], 'c2')).out.includes('"b"') ||
        JSON.parse((await cli(['webhooks', 'failed', '--json'], 'c2')).out).length === 2,
      {
        timeoutMs: 10_000,
        what: 'two failed deliveries',
      },
    );
    const failed = JSON.parse((await cli(['webhooks', 'failed', 'svc', '--json'], 'c2')).out);
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({
      endpoint: 'svc',
      type: 'request.canceled',
      reason: expect.stringContaining('HTTP 500'),
    });
    // Printed through the CLI's control-character escaping: the receiver cannot drive the terminal.
    const human = await cli(['webhooks', 'failed', 'svc'], 'c2');
    expect(human.out).toContain('boom \\u001b[2J\\u001b[31mred');
    expect(human.out).not.toContain('\x1b');
    expect((await cli(['webhooks', 'replay'], 'c2')).code).toBe(2);
    accept = true;
    expect((await cli(['webhooks', 'replay', 'svc'], 'c2')).out).toContain('Replayed 2');
    await waitFor(() => got.length === 2, { timeoutMs: 10_000, what: 'the replayed deliveries' });
    expect(got.sort()).toEqual(failed.map((f: { eventId: string }) => f.eventId).sort());
    await hooks.close();
    await worker.quit();
  });
});
