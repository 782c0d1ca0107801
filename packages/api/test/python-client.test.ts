/**
 * The whole loop from outside Node: a Python script (standard library only) enqueues over HTTP with
 * a token, receives request.succeeded webhooks on its own server, verifies the signatures itself
 * and checks that every result arrived. Batcher, collector, API and webhooks run here against the
 * emulator and a throwaway redis-server.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiTokens, WebhookEndpoints } from '@nightshift/store';
import { freePort } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { useHttpDeployment } from './deployment.js';

const CLIENT = fileURLToPath(new URL('./fixtures/client.py', import.meta.url));
const run = promisify(execFile);

const { start } = useHttpDeployment();

describe('a Python service over HTTP and webhooks', () => {
  it('enqueues with a token, receives every result as a verified webhook', async () => {
    const prefix = 'py';
    const { api, store } = await start(prefix);
    const { token } = await new ApiTokens(store).create({
      name: 'py',
      features: ['py-summaries'],
    });
    const port = await freePort();
    const { secret } = await new WebhookEndpoints(store).register({
      name: 'py-service',
      url: `http://127.0.0.1:${port}/hooks`,
      events: ['request.succeeded'],
      features: ['py-summaries'],
      requestOnly: true,
    });
    const { stdout } = await run('python3', [CLIENT], {
      env: {
        PATH: process.env.PATH ?? '',
        NIGHTSHIFT_API_URL: api.url,
        NIGHTSHIFT_API_TOKEN: token,
        WEBHOOK_PORT: String(port),
        WEBHOOK_SECRET: secret,
        REQUESTS: '25',
      },
      timeout: 120_000,
    });
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary.enqueueStatus).toBe(202);
    expect(summary.enqueued).toHaveLength(25);
    expect(summary.received).toEqual([...summary.enqueued].sort());
    expect(summary.textsNonEmpty).toBe(true);
    expect(summary.forgedStatus).toBe(400);
    expect(summary.refused).toBe(1); // the forged one only
    expect(summary.firstState).toBe('succeeded');
  }, 120_000);
});
