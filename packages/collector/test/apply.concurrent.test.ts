import { jobIds } from '@nightshift/shared';
import { createRedis, ModelAlerts } from '@nightshift/store';
import { silentLogger, useRedis } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { applyEffects } from '../src/apply.js';
import { PEEK_FIELDS, type Verdict } from '../src/decide.js';
import { resolveOptions } from '../src/options.js';
import { type Ctx, emptyCounts } from '../src/types.js';
import { type World, withWorld } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));

/** The context one collector process builds (see collector.ts), on the test world. */
function ctxOf(w: World): Ctx {
  const opts = resolveOptions({
    connection: fx.redis,
    client: w.client,
    prefix: w.prefix,
    logger: silentLogger,
  });
  return {
    opts,
    store: w.store,
    modelAlerts: new ModelAlerts(w.store),
    client: w.client,
    log: silentLogger,
    now: Date.now,
    queues: { results: w.results, deadLetters: w.deadLetters, batches: w.batches },
    signal: new AbortController().signal,
    emit: () => undefined,
    reportError: () => undefined,
    lastPollAt: 0,
    redisEpoch: () => 0,
    startedAt: Date.now(),
    instruments: undefined,
  };
}

const deadVerdict = (batchId: string): Verdict => ({
  kind: 'dead',
  reason: 'invalid_request_error',
  error: { type: 'invalid_request_error', message: 'refused' },
  entry: { attempt: 1, batchId, outcome: 'errored', errorType: 'invalid_request_error', at: Date.now() },
});

// Found by the chaos suite (bench/chaos): across a Redis restart a tracking job's lock expired and a
// second collector re-applied a chunk the first one was applying. Both had read the record before
// either applied; the second one's apply was refused as stale and it removed the dead-letter job
// both had added under the same id, so a dead request ended without its dead letter.
describe('when two collectors apply the same result line from the same read', () => {
  it('the dead letter of the death that was applied is kept', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch, subId } = await w.seed({ cids: ['twice-1'], track: false });
      const [rec] = await w.store.records.peek(['twice-1'], [...PEEK_FIELDS]);
      const decided = [{ cid: 'twice-1', rec: rec!, verdict: deadVerdict(batch.id) }];
      const origin = { batchId: batch.id, guardSub: subId };
      const first = emptyCounts();
      const second = emptyCounts();
      await applyEffects(ctxOf(w), origin, decided as never, first, Date.now());
      await applyEffects(ctxOf(w), origin, decided as never, second, Date.now());

      expect([first.dead, second.dead, second.stale]).toEqual([1, 0, 1]);
      expect((await w.store.records.get('twice-1'))?.state).toBe('dead');
      const job = await w.deadLetters.getJob(jobIds.deadLetter('twice-1', 1));
      expect(job?.data.reason).toBe('invalid_request_error');
      expect(await w.deadJobs()).toHaveLength(1);
    });
  });

  it('a dead letter for a death that did not happen is still removed', async () => {
    await withWorld(fx.redis, async (w) => {
      const { batch, subId } = await w.seed({ cids: ['moved-1'], track: false });
      const [rec] = await w.store.records.peek(['moved-1'], [...PEEK_FIELDS]);
      const origin = { batchId: batch.id, guardSub: subId };
      // Another pass requeued it first (say, the line was read as retryable there).
      const entry = { attempt: 1, batchId: batch.id, outcome: 'expired' as const, at: Date.now() };
      await w.store.outcomes.apply([
        {
          cid: 'moved-1',
          action: 'requeue',
          guardSub: subId,
          readyAt: 0,
          error: null,
          entry,
          countsAttempt: true,
        },
      ]);
      const counts = emptyCounts();
      const decided = [{ cid: 'moved-1', rec: rec!, verdict: deadVerdict(batch.id) }];
      await applyEffects(ctxOf(w), origin, decided as never, counts, Date.now());

      expect(counts.stale).toBe(1);
      expect((await w.store.records.get('moved-1'))?.state).toBe('queued');
      expect(await w.deadJobs()).toHaveLength(0);
    });
  });
});
