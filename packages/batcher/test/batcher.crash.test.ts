import { createRedis } from '@nightshift/store';
import { silentLogger, uniquePrefix, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { startBatcher } from '../src/index.js';
import { batcherFor, clock, enqueue, storeFor, useEnv } from './helpers.js';

const env = useEnv();

describe('when a batcher process dies in the middle of a flush', () => {
  // Found by the chaos suite (bench/chaos): the dead process's `{flush}` job stays active, and the
  // queue's global concurrency of 1 let no other batcher flush until its 5-minute job lock expired.
  it('another batcher takes the flush over after about a flush-lock lease', async () => {
    const prefix = uniquePrefix();
    const store = storeFor(env, prefix);
    const timing = {
      tickMs: 100,
      maxWaitMs: 1,
      flushLockMs: 1000,
      createTimeoutMs: 500,
      submissionLeaseMs: 1000,
    };
    // The doomed process has its own connection: closing it is what a kill -9 does to its locks.
    const doomedConn = createRedis({ url: env.server.url }, 'worker');
    doomedConn.on('error', () => {});
    let claimed!: () => void;
    const inFlush = new Promise<void>((r) => {
      claimed = r;
    });
    let unblock!: () => void;
    const blocked = new Promise<void>((r) => {
      unblock = r;
    });
    const doomed = await startBatcher({
      connection: doomedConn,
      prefix,
      client: env.client,
      runWorker: true,
      instance: 'doomed',
      now: clock.now,
      logger: silentLogger,
      ...timing,
      testOnlyHooks: {
        afterClaim: async () => {
          claimed();
          await blocked;
        },
      },
    });
    doomed.on('error', () => {});
    const first = await enqueue(store, 10, {}, 'a');
    await inFlush; // its tick job is active and holds the {flush} queue's only slot
    doomedConn.disconnect(); // "kill -9": nothing renews its job lock or its flush lock any more

    const survivor = await batcherFor(env, prefix, { instance: 'survivor', runWorker: true, ...timing });
    survivor.on('error', () => {});
    const second = await enqueue(store, 10, {}, 'b');
    const sent = () =>
      new Set(
        env.emu.inspect
          .batches()
          .flatMap((b) => env.emu.inspect.requests(b.id).map((r) => r.custom_id))
          .filter((cid) => cid.startsWith('a-') || cid.startsWith('b-')),
      );
    // Well under the old 5-minute job lock: the survivor recovers the dead tick and flushes.
    await waitFor(() => sent().size === 20, {
      timeoutMs: 20_000,
      what: 'both waves submitted by the survivor',
    });
    expect(sent()).toEqual(new Set([...first, ...second]));

    await survivor.close();
    unblock();
    await doomed.close().catch(() => undefined);
  });
});
