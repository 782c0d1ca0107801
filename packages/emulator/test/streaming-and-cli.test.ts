import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { sourceNodeArgs } from '@nightshift/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../src/index.js';
import { sdk } from './helpers.js';

let emu: Emulator | undefined;
afterEach(() => emu?.close());

const N = 20_000;

function smallRequests(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `s-${i}`,
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 8,
      messages: [{ role: 'user' as const, content: `n${i}` }],
    },
  }));
}

describe('large batches', () => {
  it(`streams ${N.toLocaleString('en')} results completely and out of order`, async () => {
    emu = await startEmulator({ quiet: true, recordRequests: false });
    const client = sdk(emu);
    const b = await client.messages.batches.create({ requests: smallRequests(N) });
    const ended = await client.messages.batches.retrieve(b.id);
    expect(ended.request_counts.succeeded).toBe(N);

    const seen = new Set<string>();
    let inOrder = 0;
    let i = 0;
    for await (const line of await client.messages.batches.results(b.id)) {
      if (line.custom_id === `s-${i}`) inOrder++;
      seen.add(line.custom_id);
      i++;
    }
    expect(i).toBe(N);
    expect(seen.size).toBe(N);
    expect(inOrder).toBeLessThan(N / 100);
    expect(emu.inspect.requests(b.id)[0]!.params).toBeUndefined(); // recordRequests: false
  });

  it('applies backpressure: an abandoned stream stops being produced', async () => {
    // 4,000 results of ~2.5 KB: ~10 MB, far more than socket buffers hold
    emu = await startEmulator({ quiet: true, respond: ({ customId }) => `${customId} `.repeat(400) });
    const client = sdk(emu);
    const total = 4_000;
    const requests = smallRequests(total).map((r) => ({ ...r, params: { ...r.params, max_tokens: 4096 } }));
    const b = await client.messages.batches.create({ requests });
    await client.messages.batches.retrieve(b.id);
    const decoder = await client.messages.batches.results(b.id);
    let read = 0;
    for await (const _ of decoder) {
      if (++read === 10) break;
    }
    decoder.controller.abort();
    await new Promise((r) => setTimeout(r, 100));
    const served = emu.inspect.stats().resultsServed;
    expect(served).toBeGreaterThanOrEqual(10);
    expect(served).toBeLessThan(total);
    // the emulator is still healthy
    expect((await client.messages.batches.list()).data).toHaveLength(1);
  });
});

describe('cli', () => {
  it('prints its URL, serves, and exits cleanly on SIGTERM', async () => {
    const cli = new URL('../src/cli.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, sourceNodeArgs(cli, '--port', '0', '--delay-ms', '1000'), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const m =
        /^Nightshift emulator listening on (http:\/\/127\.0\.0\.1:\d+) \(set ANTHROPIC_BASE_URL to this\)$/.exec(
          line,
        );
      expect(m).not.toBeNull();
      const res = await fetch(`${m![1]}/v1/messages/batches`, {
        headers: { 'x-api-key': 'k', 'anthropic-version': '2026-10-21' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
