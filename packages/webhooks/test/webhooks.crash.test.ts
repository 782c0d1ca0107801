import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, Store, WebhookEndpoints } from '@nightshift/store';
import { freePort, keepOutput, spawnTs, useRedis, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { item, receiver } from './helpers.js';

const ROLE = new URL('./fixtures/webhooks-role.ts', import.meta.url).pathname;

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-webhooks-crash-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function role(prefix: string) {
  const child = spawnTs(ROLE, [JSON.stringify({ url: fx.url, prefix })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const out = keepOutput(child);
  await waitFor(() => out().includes('started'), { timeoutMs: 15_000, what: 'the webhook role to start' });
  return child;
}

describe('a delivery process killed with -9', () => {
  it('loses no event: another process takes its events and its deliveries in progress', async () => {
    const prefix = 'crash1';
    const store = new Store(fx.redis, prefix);
    const port = await freePort();
    const { secret } = await new WebhookEndpoints(store).register({
      name: 'svc',
      url: `http://127.0.0.1:${port}/svc`,
    });
    // Every other delivery is slow, so the kill finds some in progress.
    const rx = receiver({
      port,
      log: join(dir, 'rx.jsonl'),
      secrets: { '/svc': secret },
      slowEvery: 2,
      slowMs: 1_500,
    });
    await rx.start();
    const cids = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await store.records.enqueue(cids.map((c) => item(c)));
    const first = await role(prefix);
    await store.records.cancel(cids.slice(0, 20));
    const delivered = () =>
      new Set(
        rx
          .received()
          .filter((r) => r.status === 204)
          .map((r) => r.id),
      );
    await waitFor(() => delivered().size >= 3, { timeoutMs: 20_000, what: 'some deliveries' });
    const gone = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await gone;
    // Events written while no process runs wait in the outbox.
    await store.records.cancel(cids.slice(20));
    expect(delivered().size).toBeLessThan(40);
    const second = await role(prefix);
    await waitFor(() => delivered().size === 40, {
      timeoutMs: 30_000,
      what: `40 events delivered (have ${delivered().size})`,
    });
    const ids = [...delivered()].map((id) => /-(k\d+)-canceled$/.exec(id)?.[1]).sort();
    expect(ids).toEqual([...cids].sort());
    expect(
      rx
        .received()
        .filter((r) => r.status === 204)
        .every((r) => r.verified),
    ).toBe(true);
    second.kill('SIGTERM');
    await rx.kill('SIGTERM');
  }, 60_000);
});
