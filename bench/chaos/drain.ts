import Anthropic from '@anthropic-ai/sdk';
import { startCollector } from '@nightshift/collector';
import type { Emulator } from '@nightshift/emulator';
import { QUEUES } from '@nightshift/shared';
import { type RedisClient, Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { silentLogger } from '@nightshift/testing';
import { sleep, type Workload } from './workload.js';

/**
 * Waits until the run has drained: every acknowledged request final, nothing open or in flight,
 * every batch at the emulator known and collected, every result consumed. Orphan adoption runs once
 * per 10 minutes per collector, so when only unknown batches remain an operator sweep
 * (`sweepNow`, what `nightshift` would run) is made, as an operator would after an incident.
 */
export async function waitDrained(
  timeoutMs: number,
  work: Workload,
  admin: RedisClient,
  prefix: string,
  emu: Emulator,
  log: (m: string) => void,
): Promise<{ drained: boolean; sweeps: number }> {
  const store = new Store(admin, prefix);
  const until = Date.now() + timeoutMs;
  let sweeps = 0;
  let last = '';
  let changedAt = Date.now();
  while (Date.now() < until) {
    const p = await pending(store, work, emu);
    const summary = JSON.stringify(p);
    if (summary !== last) {
      log(`drain: ${summary}`);
      last = summary;
      changedAt = Date.now();
    }
    if (p.open + p.inflight + p.notFinal + p.unknownBatches + p.unconsumed === 0)
      return { drained: true, sweeps };
    // Batches the API has and Nightshift does not (their create's answer was lost): orphan adoption
    // finds them, but a collector scans only every 10 minutes. When nothing else moves, sweep now.
    if (p.unknownBatches > 0 && Date.now() - changedAt > 5_000) {
      await operatorSweep(admin, prefix, emu.url);
      sweeps++;
      log(`operator sweep (orphan adoption) #${sweeps}`);
      changedAt = Date.now();
    }
    await sleep(500);
  }
  return { drained: false, sweeps };
}

/** What still has to happen before the run is drained. */
async function pending(store: Store, work: Workload, emu: Emulator) {
  const cids = [...work.acks.keys()];
  let notFinal = 0;
  for (let i = 0; i < cids.length; i += 1000) {
    const recs = await store.records.peek(cids.slice(i, i + 1000), ['state']);
    notFinal += recs.filter((r) => r?.state !== 'succeeded' && r?.state !== 'dead').length;
  }
  let unknownBatches = 0;
  for (const b of emu.inspect.batches()) {
    const known = await store.batches.get(b.id);
    if (known?.state !== 'collected') unknownBatches++;
  }
  const q = `${store.prefix}:${QUEUES.results}`;
  const waiting = await Promise.all([
    rawStore(store).redis.llen(`${q}:wait`),
    rawStore(store).redis.llen(`${q}:active`),
    rawStore(store).redis.zcard(`${q}:delayed`),
    rawStore(store).redis.zcard(`${q}:prioritized`),
  ]);
  return {
    notFinal,
    open: await rawStore(store).redis.scard(rawStore(store).keys.openSubmissions),
    inflight: await rawStore(store).redis.scard(rawStore(store).keys.inflight),
    unknownBatches,
    unconsumed: waiting.reduce((a, b) => a + b, 0),
  };
}

/** One collector sweep with orphan adoption, in-process (an operator's `sweepNow`). */
async function operatorSweep(admin: RedisClient, prefix: string, emuUrl: string) {
  const c = await startCollector({
    connection: admin,
    prefix,
    client: new Anthropic({ apiKey: 'test', baseURL: emuUrl }),
    runWorker: false,
    adoptOrphans: true,
    orphanMinAgeMs: 1,
    logger: silentLogger,
  });
  try {
    await c.sweepNow();
  } finally {
    await c.close();
  }
}
