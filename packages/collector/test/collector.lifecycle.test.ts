import type { DeadLetterPayload } from '@nightshift/shared';
import { createRedis } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { defaultParams, type World, withWorld } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const lastOutcome = async (w: World, cid: string) => {
  const hist = JSON.parse((await w.store.records.get(cid))!.history) as { outcome: string }[];
  return hist[hist.length - 1]?.outcome;
};

describe('when the API answers 404 right after create', () => {
  it('keeps polling through the propagation delay and collects the batch', () =>
    withWorld(fx.redis, async (w) => {
      w.emu.control.injectFault({ endpoint: 'retrieve', kind: 'not-found-after-create', forMs: 1500 });
      await w.collector(); // already running when the batch appears
      const { batch } = await w.seed({ cids: ['nf-a', 'nf-b'] });
      expect((await w.waitCollected(batch.id)).state).toBe('collected');
      expect((await w.delivered()).length).toBe(2);
      const log = w.emu.inspect.httpLog();
      expect(log.some((e) => e.endpoint === 'retrieve' && e.status === 404)).toBe(true);
    }));

  it('declares the batch lost once 404s outlast the grace period, and requeues its requests', () =>
    withWorld(fx.redis, async (w) => {
      w.emu.control.injectFault({ endpoint: 'retrieve', kind: 'not-found-after-create', forMs: HOUR });
      const { batch } = await w.seed({ cids: ['lost-a', 'lost-b'] });
      await w.collector({ notFoundGraceMs: 400 });
      expect((await w.waitCollected(batch.id)).state).toBe('lost');
      expect(await w.store.batches.inflightIds()).toEqual([]);
      expect(await w.store.records.get('lost-a')).toMatchObject({ state: 'queued', attempt: '1' });
      expect(await lastOutcome(w, 'lost-a')).toBe('lost');
      await waitFor(async () => (await w.store.alerts.list()).some((a) => a.code === 'batch-lost'));
      expect((await w.delivered()).length).toBe(0);
    }));
});

describe('when a batch runs into its 24 h expiry', () => {
  it('requeues the expired requests; a deadline no batch can meet goes real-time or dies', () =>
    withWorld(
      fx.redis,
      async (w) => {
        const now = () => w.emu.clock.now();
        const t0 = now();
        const deadline = (cid: string) => (cid.startsWith('dl-') ? t0 + 30 * HOUR : null);
        const { batch } = await w.seed({
          cids: ['ex-1', 'ex-2', 'dl-rt', 'dl-dead'],
          deadline,
          realtime: (cid) => cid === 'dl-rt',
          now: t0,
        });
        await w.collector({ now });
        await waitFor(async () => ((await w.batches.getJob(`batch-${batch.id}`))?.data.polls ?? 0) >= 1);
        expect((await w.store.batches.get(batch.id))!.state).toBe('submitted');
        w.emu.clock.advance(24 * HOUR + 60_000);
        await w.waitCollected(batch.id);

        for (const cid of ['ex-1', 'ex-2']) {
          expect(await w.store.records.get(cid)).toMatchObject({ state: 'queued', attempt: '2' });
          expect(await lastOutcome(w, cid)).toBe('expired');
        }
        // The caller allowed the real-time path: answered at list price, delivered like a batch result.
        await waitFor(async () => (await w.store.records.get('dl-rt'))?.state === 'succeeded');
        const rt = (await w.delivered()).find((r) => r.customId === 'dl-rt')!;
        expect(rt.jobId).toBe('res-dl-rt');
        expect(rt).toMatchObject({ mode: 'realtime', batchId: null });
        expect(rt.cost.cost).toBe(rt.cost.realtimeEquivalent);
        expect((await w.store.ledger.rows()).map((r) => r.mode)).toEqual(['realtime']);
        // No real-time path: dead-lettered with reason 'deadline'.
        expect(await w.store.records.get('dl-dead')).toMatchObject({ state: 'dead', reason: 'deadline' });
        const dl = (await w.deadLetters.getJob('dead-dl-dead-1'))!.data as DeadLetterPayload;
        expect(dl.reason).toBe('deadline');
        expect(dl.attempts.map((a) => a.outcome)).toEqual(['expired']);
      },
      { processing: 'manual' },
    ));
});

describe('when results approach and pass the 29-day archive', () => {
  it('alerts while uncollected, then declares the batch lost once results are gone', () =>
    withWorld(fx.redis, async (w) => {
      const now = () => w.emu.clock.now();
      const { batch } = await w.seed({ cids: ['ar-1', 'ar-2'], now: now() });
      w.emu.clock.advance(26.5 * DAY);
      const idle = await w.collector({ runWorker: false, now });
      const report = await idle.sweepNow();
      expect(report.alertsRaised).toEqual(
        expect.arrayContaining([`archive-approaching:${batch.id}`, `results-unapplied:${batch.id}`]),
      );
      w.emu.clock.advance(3 * DAY);
      await w.collector({ now });
      expect((await w.waitCollected(batch.id)).state).toBe('lost');
      // The batch is marked lost first, its alerts are settled right after.
      await waitFor(async () => {
        const codes = (await w.store.alerts.list()).map((a) => `${a.code}:${a.batchId}`);
        return codes.includes(`batch-lost:${batch.id}`) && !codes.includes(`archive-approaching:${batch.id}`);
      });
      expect(await w.store.records.get('ar-1')).toMatchObject({ state: 'queued', attempt: '1' });
    }));
});

describe('orphan adoption', () => {
  it('adopts an unknown ended batch carrying our custom_ids and applies its successes once', () =>
    withWorld(fx.redis, async (w) => {
      const cids = ['or-1', 'or-2', 'or-3'];
      const { batch, subId } = await w.seed({ cids, commit: false });
      await w.store.submissions.release(subId); // recovery found no batch: the requests went back to the queue
      const foreign = await w.client.messages.batches.create({
        requests: [{ custom_id: 'someone-else', params: defaultParams('x') }],
      });
      await w.client.messages.batches.retrieve(batch.id); // instant mode: ends on first look
      await w.client.messages.batches.retrieve(foreign.id);

      const scout = await w.collector({ runWorker: false, adoptOrphans: true });
      expect((await scout.sweepNow()).orphansAdopted).toEqual([batch.id]);
      expect(await w.store.batches.get(foreign.id)).toBeNull();
      await w.collector();
      await w.waitCollected(batch.id);
      expect(await w.store.batches.get(batch.id)).toMatchObject({
        origin: 'adopted',
        sub: `orphan-${batch.id}`,
      });
      expect((await w.delivered()).length).toBe(3);
      for (const cid of cids) expect((await w.store.records.get(cid))!.state).toBe('succeeded');
      expect((await scout.sweepNow()).orphansAdopted).toEqual([]);
    }));
});

describe('when two batches were committed for one submission', () => {
  it('delivers each success once; only the first batch decides failures', () =>
    withWorld(fx.redis, async (w) => {
      w.emu.control.injectOutcome({ match: /^dup-c$/, outcome: 'errored', errorType: 'api_error', times: 1 });
      const cids = ['dup-a', 'dup-b', 'dup-c'];
      const { batch: first, subId } = await w.seed({ cids });
      const second = await w.client.messages.batches.create({
        requests: cids.map((cid) => ({ custom_id: cid, params: defaultParams(cid) })),
      });
      await w.commit(subId, second, 3);
      expect((await w.store.batches.get(second.id))!.origin).toBe('duplicate');
      await w.collector();
      await w.waitCollected(first.id);
      await w.waitCollected(second.id);
      expect((await w.delivered()).length).toBe(3);
      const ledger = await w.store.ledger.rows();
      expect(ledger.reduce((n, r) => n + r.results, 0)).toBe(3);
      for (const cid of cids) expect((await w.store.records.get(cid))!.state).toBe('succeeded');
      expect((await w.store.stats.all()).dead ?? 0).toBe(0);
    }));
});

describe('retry, backoff and the dead letter', () => {
  it('retries with exponential backoff and dead-letters with the full history when attempts run out', () =>
    withWorld(fx.redis, async (w) => {
      w.emu.control.injectOutcome({
        match: /^rr$/,
        outcome: 'errored',
        errorType: 'overloaded_error',
        message: 'busy',
      });
      const requeued = async (attempt: number, readyAt: number) =>
        expect(await w.store.records.get('rr')).toMatchObject({
          state: 'queued',
          attempt: String(attempt),
          readyAt: String(readyAt),
        });
      let T = Date.now();
      const { batch } = await w.seed({ cids: ['rr'], now: T });
      await w.collector({ now: () => T, retryBackoffMs: 1000, maxAttempts: 3 });
      await w.waitCollected(batch.id);
      await requeued(2, T + 1000);
      T += 10_000;
      const second = await w.resubmit(['rr'], T);
      await w.waitCollected(second.batch.id);
      await requeued(3, T + 2000); // the backoff doubles
      T += 10_000;
      const third = await w.resubmit(['rr'], T);
      await w.waitCollected(third.batch.id);
      expect(await w.store.records.get('rr')).toMatchObject({ state: 'dead', reason: 'attempts-exhausted' });
      const dl = (await w.deadLetters.getJob('dead-rr-1'))!.data as DeadLetterPayload;
      expect(dl.lastError).toEqual({ type: 'overloaded_error', message: 'busy' });
      expect(dl.attempts.map((a) => [a.attempt, a.batchId, a.outcome, a.errorType])).toEqual([
        [1, batch.id, 'errored', 'overloaded_error'],
        [2, second.batch.id, 'errored', 'overloaded_error'],
        [3, third.batch.id, 'errored', 'overloaded_error'],
      ]);
    }));
});

describe('the sweep', () => {
  it('re-adds a missing tracking job, raises liveness alerts and clears them once resolved', () =>
    withWorld(fx.redis, async (w) => {
      const t0 = Date.now();
      let T = t0;
      const { batch } = await w.seed({ cids: ['sw-1'], track: false, now: t0 });
      const idle = await w.collector({ runWorker: false, now: () => T });
      const first = await idle.sweepNow();
      expect(first.trackingJobsAdded).toEqual([batch.id]);
      expect(await w.batches.getJobState(`batch-${batch.id}`)).toBe('waiting');
      T = t0 + 26 * HOUR;
      const late = await idle.sweepNow();
      expect(late.trackingJobsAdded).toEqual([]);
      expect(late.alertsRaised.sort()).toEqual(
        ['poll-stale', `batch-past-expiry:${batch.id}`, `results-unapplied:${batch.id}`].sort(),
      );
      await w.collector({ now: () => T });
      await w.waitCollected(batch.id);
      // Whichever sweep runs next (this one or the running collector's) clears them all.
      await idle.sweepNow();
      await waitFor(async () => (await w.store.alerts.list()).length === 0, { what: 'alerts cleared' });
    }));

  it('purges records, submissions and batches past retention, and nothing else', () =>
    withWorld(fx.redis, async (w) => {
      const T = Date.now();
      const { batch, subId } = await w.seed({ cids: ['old-1', 'old-2'], now: T });
      await w.collector({ now: () => T });
      await w.waitCollected(batch.id);
      await w.store.records.enqueue([
        {
          cid: 'still-queued',
          feature: 'classify',
          model: 'claude-haiku-4-5',
          params: JSON.stringify(defaultParams('q')),
          phash: 'q',
          meta: '',
          deadline: null,
          partition: 'default',
          group: 'gq',
          bytes: 10,
          realtimeAllowed: false,
          state: 'queued',
        },
      ]);
      const janitor = await w.collector({ runWorker: false, now: () => T + 36 * DAY });
      const report = await janitor.sweepNow();
      expect(report.purged).toEqual({ records: 2, submissions: 1, batches: 1 });
      expect(await w.store.records.get('old-1')).toBeNull();
      expect(await w.store.batches.get(batch.id)).toBeNull();
      expect(await w.store.submissions.get(subId)).toBeNull();
      expect(await w.store.records.get('still-queued')).not.toBeNull();
      expect((await w.store.ledger.rows()).length).toBe(1);
    }));
});

describe('retention from its indexes', () => {
  const scans = async () =>
    Number(/cmdstat_scan:calls=(\d+)/.exec(await fx.redis.info('commandstats'))?.[1] ?? 0);

  it('indexes what came before the indexes once, keeps a retried dead letter, then never walks the keyspace', () =>
    withWorld(fx.redis, async (w) => {
      const T = Date.now();
      w.emu.control.injectOutcome({
        match: /^idx-3$/,
        outcome: 'errored',
        errorType: 'invalid_request_error',
      });
      const { batch, subId } = await w.seed({ cids: ['idx-1', 'idx-2', 'idx-3'], now: T });
      await w.collector({ now: () => T });
      await w.waitCollected(batch.id);
      const k = rawStore(w.store).keys;
      // idx-2 and the submission became final before the indexes existed; idx-3 is retried by an operator.
      await fx.redis.zrem(k.finals, 'idx-2');
      await fx.redis.zrem(k.resolvedSubmissions, subId);
      expect(await w.store.outcomes.retryDead(['idx-3'])).toEqual([{ code: 'ok' }]);
      await fx.redis.rpush(k.submissionMembers(`${subId}-rejected`), 'refused-at-create');

      const janitor = await w.collector({ runWorker: false, now: () => T + 36 * DAY });
      expect((await janitor.sweepNow()).purged).toEqual({ records: 2, submissions: 1, batches: 1 });
      expect(await w.store.records.get('idx-2')).toBeNull();
      expect(await w.store.records.get('idx-3')).toMatchObject({ state: 'queued' });
      expect(await fx.redis.exists(k.submissionMembers(`${subId}-rejected`))).toBe(0);
      expect(await fx.redis.zcard(k.finals)).toBe(0);

      // Once indexed, a pass reads only what it deletes.
      const next = await w.seed({ cids: ['idx-4', 'idx-5'], now: T });
      await w.waitCollected(next.batch.id);
      const before = await scans();
      const later = await w.collector({ runWorker: false, now: () => T + 37 * DAY });
      expect((await later.sweepNow()).purged).toEqual({ records: 2, submissions: 1, batches: 1 });
      expect(await scans()).toBe(before);
    }));
});

describe('deleteAfterCollect', () => {
  it('deletes the batch at the API once its results are applied', () =>
    withWorld(fx.redis, async (w) => {
      const { batch } = await w.seed({ cids: ['del-1'] });
      await w.collector({ deleteAfterCollect: true });
      await w.waitCollected(batch.id);
      await waitFor(() => w.emu.inspect.batch(batch.id)?.deleted);
      expect((await w.delivered()).length).toBe(1);
    }));
});
