/**
 * A deployment whose services use only the HTTP API and webhooks, with no result worker: the
 * webhooks role consumes `{results}` (`consumeResults`). Requests enqueued over HTTP go through
 * the batcher and the collector against the emulator; every request.succeeded reaches a real HTTP
 * receiver once, verified (Standard Webhooks signature); then `{results}` is empty and every
 * record compacted. Real redis-server, emulator and HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookEnvelope } from '@nightshift/shared';
import { ApiTokens, openQueue, WebhookEndpoints } from '@nightshift/store';
import { waitFor } from '@nightshift/testing';
import { verifyWebhook } from '@nightshift/webhooks';
import { describe, expect, it } from 'vitest';
import { useHttpDeployment } from './deployment.js';

const { start, closers } = useHttpDeployment();

/** A receiver that verifies each webhook with the endpoint's secret and keeps what it accepted. */
async function receiver(secret: () => string) {
  const got: { id: string; body: WebhookEnvelope<'request.succeeded'> }[] = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = Buffer.concat(chunks);
        verifyWebhook(body, req.headers, secret());
        got.push({ id: String(req.headers['webhook-id']), body: JSON.parse(body.toString('utf8')) });
        res.statusCode = 204;
      } catch {
        refused++;
        res.statusCode = 400;
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return { port: (server.address() as AddressInfo).port, got, refused: () => refused };
}

describe('an HTTP-only service with webhooks and no result worker', () => {
  it('receives every result once, verified, and leaves {results} empty and the records compacted', async () => {
    const prefix = 'whonly';
    const { api, store, redis } = await start(prefix, { consumeResults: true });
    const { token } = await new ApiTokens(store).create({ name: 'svc', features: ['summaries'] });
    let secret = '';
    const rx = await receiver(() => secret);
    ({ secret } = await new WebhookEndpoints(store).register({
      name: 'svc',
      url: `http://127.0.0.1:${rx.port}/hooks`,
      events: ['request.succeeded'],
    }));
    const docs = Array.from({ length: 120 }, (_, i) => `doc-${i}`);
    const res = await fetch(`${api.url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        requests: docs.map((doc) => ({
          feature: 'summaries',
          key: doc,
          metadata: { doc },
          params: {
            model: 'claude-haiku-4-5',
            max_tokens: 64,
            messages: [{ role: 'user', content: `Summarize ${doc}` }],
          },
        })),
      }),
    });
    expect(res.status).toBe(202);
    const { results } = (await res.json()) as { results: { customId: string }[] };
    const cids = results.map((r) => r.customId);
    expect(new Set(cids).size).toBe(docs.length);

    const queue = openQueue('results', redis, prefix);
    closers.push(() => queue.close());
    const leftInResults = async () => {
      const counts = await queue.getJobCounts(
        'wait',
        'active',
        'delayed',
        'completed',
        'failed',
        'prioritized',
      );
      return Object.values(counts).reduce((a, b) => a + b, 0);
    };
    const compacted = async () =>
      (await store.records.peek(cids, ['state', 'customId'])).filter(
        (r) => r?.state === 'succeeded' && r.customId === '',
      ).length;
    await waitFor(async () => new Set(rx.got.map((g) => g.id)).size === cids.length, {
      timeoutMs: 90_000,
      what: 'a webhook for every request',
    });
    await waitFor(async () => (await leftInResults()) === 0 && (await compacted()) === cids.length, {
      timeoutMs: 30_000,
      what: '{results} empty and every record compacted',
    });
    // Once each: nothing was killed here, so not even the at-least-once duplicate.
    expect(rx.got).toHaveLength(cids.length);
    expect(rx.refused()).toBe(0);
    expect(rx.got.map((g) => g.body.data.customId).sort()).toEqual([...cids].sort());
    for (const { body } of rx.got) {
      expect(body.type).toBe('request.succeeded');
      expect(body.data.text).toEqual(expect.any(String));
      expect(body.data.text!.length).toBeGreaterThan(0);
      expect(body.data.metadata).toEqual({ doc: expect.stringMatching(/^doc-\d+$/) });
    }
    // What the HTTP API answers for a compacted record (ARCHITECTURE.md, "What a finished request keeps").
    const status = await fetch(`${api.url}/v1/requests/${cids[0]}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status.status).toBe(404); // a scoped token: the compact record no longer names its feature
  }, 150_000);
});
