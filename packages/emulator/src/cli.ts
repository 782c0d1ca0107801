#!/usr/bin/env node
/**
 * `nightshift-emulator`, the standalone emulator: `nightshift-emulator [--port N] [--host H] [--delay-ms N] [--manual]
 * [--api-key K] [--min-cacheable-tokens N] [--queue-cap N]`. Exits cleanly on SIGINT / SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startEmulator } from './index.js';
import type { EmulatorOptions } from './types.js';

const USAGE = `Usage: nightshift-emulator [--port N] [--host H] [--delay-ms N | --manual] [--api-key K] [--min-cacheable-tokens N] [--queue-cap N]

  --port N                  listen port (default 0: a free port)
  --host H                  listen address (default 127.0.0.1)
  --delay-ms N              process each batch linearly over N ms (default: instant, i.e. on the first poll)
  --manual                  never process on its own (only useful programmatically)
  --api-key K               accept only this key (default: any non-empty key)
  --min-cacheable-tokens N  minimum cacheable prompt prefix (default 1024)
  --queue-cap N             most batch requests in the processing queue; a create past it answers 429 (default: no cap)`;

function intArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'delay-ms': { type: 'string' },
        manual: { type: 'boolean' },
        'api-key': { type: 'string' },
        'min-cacheable-tokens': { type: 'string' },
        'queue-cap': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const opts: EmulatorOptions = {};
  const port = intArg('port', values.port as string | undefined);
  if (port !== undefined) opts.port = port;
  if (typeof values.host === 'string') opts.host = values.host;
  const delayMs = intArg('delay-ms', values['delay-ms'] as string | undefined);
  if (delayMs !== undefined) opts.processing = { delayMs };
  if (values.manual) opts.processing = 'manual';
  if (typeof values['api-key'] === 'string') opts.apiKey = values['api-key'];
  const minCache = intArg('min-cacheable-tokens', values['min-cacheable-tokens'] as string | undefined);
  if (minCache !== undefined) opts.minCacheableTokens = minCache;
  const queueCap = intArg('queue-cap', values['queue-cap'] as string | undefined);
  if (queueCap) opts.processingQueue = { maxRequests: queueCap };

  const emu = await startEmulator(opts);
  console.log(`Nightshift emulator listening on ${emu.url} (set ANTHROPIC_BASE_URL to this)`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    emu.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
