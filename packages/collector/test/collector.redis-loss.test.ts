import type { EmulatorOptions } from '@nightshift/emulator';
import { jobIds } from '@nightshift/shared';
import { createRedis, type RedisClient } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { type RedisServer, startRedisServer, waitFor } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type World, withWorld } from './helpers.js';

// Found by the chaos suite (bench/chaos, scenario redis-everysec): when Redis loses its last
// acknowledged writes (an OS crash under appendfsync everysec, a failover to a lagging replica),
// a collector carries on after the restart. A chunk's job add could be lost while its apply landed
// (a succeeded record whose result never reaches the service), or the chunk's apply lost while the
// batch was marked collected after it (requests left claimed behind a collected batch).

let server: RedisServer;
let redis: RedisClient;

beforeAll(async () => {
  server = await startRedisServer({ appendonly: true, appendfsync: 'always' });
  redis = createRedis({ url: server.url });
  redis.on('error', () => undefined);
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

/** {@link withWorld} on this file's Redis, which its tests restart and take away. */
const withWorldThroughRestarts = (fn: (w: World) => Promise<void>, emuOpts: EmulatorOptions = {}) =>
  withWorld(
    redis,
    (w) => {
      // The restart test drops every connection: the world's own queues report it; nothing to act on.
      for (const q of [w.results, w.deadLetters, w.batches]) q.on('error', () => undefined);
      return fn(w);
    },
    emuOpts,
  );

const ledgerResults = async (w: World) => (await w.store.ledger.rows()).reduce((n, r) => n + r.results, 0);

describe('when the job of an applied result is missing (a collector killed between the two, or Redis lost it)', () => {
  it('the next pass over the batch adds the missing result job and dead letter, and nothing twice', () =>
    withWorldThroughRestarts(async (w) => {
      const cids = ['kept-1', 'kept-2', 'kept-3', 'poison-1'];
      w.emu.control.injectOutcome({
        match: /^poison-/,
        outcome: 'errored',
        errorType: 'invalid_request_error',
      });
      const { batch } = await w.seed({ cids });
      await w.collector();
      await w.waitCollected(batch.id);
      expect(await ledgerResults(w)).toBe(3);

      // What the loss leaves: records final, their jobs gone, the batch back in flight.
      const [job] = await w.resultJobs();
      await job!.remove();
      await w.deadLetters.remove(jobIds.deadLetter('poison-1', 1));
      await w.store.batches.update(batch.id, { state: 'applying' });
      await redis.sadd(rawStore(w.store).keys.inflight, batch.id);

      await w.waitCollected(batch.id);
      await waitFor(async () => (await w.delivered()).length === 3, {
        what: 'the lost result job added again',
      });
      const dead = await w.deadLetters.getJob(jobIds.deadLetter('poison-1', 1));
      expect(dead?.data.reason).toBe('invalid_request_error');
      expect(dead?.data.attempts.at(-1)?.batchId).toBe(batch.id);
      expect((await w.delivered()).map((r) => r.customId).sort()).toEqual(['kept-1', 'kept-2', 'kept-3']);
      expect(await w.resultJobs()).toHaveLength(1);
      expect(await w.deadJobs()).toHaveLength(1);
      expect(await ledgerResults(w)).toBe(3); // the repair adds jobs, it never applies again
    }));
});

describe('when Redis restarts while a collector is in the middle of a batch', () => {
  it('the pass is done again from the start, and every result still takes effect once', () =>
    withWorldThroughRestarts(
      async (w) => {
        const { batch, cids } = await w.seedMany(600, 'mid-');
        await w.collector({ chunkSize: 20 });
        await waitFor(
          async () => {
            const n = Number(await redis.hget(rawStore(w.store).keys.stats, 'succeeded'));
            return n > 0 && n < cids.length;
          },
          { intervalMs: 5, what: 'the pass to be part-way' },
        );
        await server.restart(); // kill -9 and start again (appendfsync always: nothing lost)
        await w.waitCollected(batch.id, 60_000);

        expect(w.emu.inspect.stats().resultStreams).toBeGreaterThanOrEqual(2); // done again
        const states = await w.store.records.peek(cids, ['state']);
        expect(states.every((s) => s?.state === 'succeeded')).toBe(true);
        expect((await w.delivered()).length).toBe(cids.length);
        expect(await ledgerResults(w)).toBe(cids.length);
      },
      { recordRequests: false },
    ));
});
