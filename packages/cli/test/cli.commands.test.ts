import { createResultWorker } from '@nightshift/producer';
import { jobIds, type ResultJobData } from '@nightshift/shared';
import {
  addDeadLetters,
  createRedis,
  deliverResults,
  openQueue,
  STORE_LAYOUT,
  Store,
  WebhookEndpoints,
} from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { claimInto, queuedItem, useRedis, waitFor } from '@nightshift/testing';
import { describe, expect, it } from 'vitest';
import { runCliCaptured } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }));
let n = 0;

const cli = (args: string[], prefix: string) =>
  runCliCaptured(args, { REDIS_URL: fx.url, NIGHTSHIFT_PREFIX: prefix });

const params = (cid: string) =>
  JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: cid }] });
const item = (cid: string) =>
  queuedItem(cid, { feature: 'docs', params: params(cid), phash: `h${cid}`, group: 'g' });

/** A store with 3 queued requests, one batch in flight and one dead letter. */
async function seed() {
  const prefix = `c${++n}`;
  const store = new Store(fx.redis, prefix);
  await store.records.enqueue(['a', 'b', 'c', 'd', 'e'].map(item));
  await claimInto(store, 'g', { max: 2, reason: 'size' });
  const now = new Date().toISOString();
  await store.submissions.commit(
    's1',
    { id: 'msgbatch_01abc', created_at: now, expires_at: now, processing_status: 'in_progress' },
    { count: 2, bytes: 200, partition: 'default', reason: 'size' },
  );
  await store.outcomes.apply([
    {
      cid: 'b',
      action: 'dead',
      guardSub: 's1',
      reason: 'invalid_request_error: bad',
      error: { type: 'invalid_request_error', message: 'bad' },
      entry: { attempt: 1, batchId: 'msgbatch_01abc', outcome: 'errored', at: 1 },
    },
  ]);
  const dl = openQueue('deadLetters', fx.redis, prefix);
  await addDeadLetters(dl, [
    {
      deaths: 1,
      payload: {
        customId: 'b',
        feature: 'docs',
        model: 'claude-haiku-4-5',
        reason: 'invalid_request_error: bad',
        lastError: { type: 'invalid_request_error', message: 'bad' },
        attempts: [],
        batchId: 'msgbatch_01abc',
        params: JSON.parse(params('b')),
        metadata: null,
        deadAt: Date.now(),
      },
    },
  ]);
  await dl.close();
  await store.outcomes.apply([
    {
      cid: 'a',
      action: 'success',
      mode: 'batch',
      tokens: { input: 1000, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 100 },
      costNano: 750_000,
      listNano: 1_500_000,
      delivery: 'res-a',
      entry: { attempt: 1, batchId: 'msgbatch_01abc', outcome: 'succeeded', at: 1 },
      batchId: 'msgbatch_01abc',
    },
  ]);
  return { prefix, store };
}

describe('nightshift CLI', () => {
  it('status --json reports the backlog, batches in flight and the queues', async () => {
    const { prefix } = await seed();
    const r = await cli(['status', '--json'], prefix);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.queued.total).toBe(3);
    expect(s.batchesInFlight.map((b: { id: string }) => b.id)).toEqual(['msgbatch_01abc']);
    expect(s.queues.deadLetters.waiting).toBe(1);
    expect(s.admission).toEqual({ inFlight: 2, batches: 1, cap: null, held: 0 });
    const human = await cli(['status'], prefix);
    expect(human.out).toContain('Queued requests: 3');
    expect(human.out).toContain('At the API: 2 requests (no flush yet)');
    await new Store(fx.redis, prefix).admission.record({
      cap: 2,
      inFlight: 2,
      held: 3,
      at: 1,
      instance: 'b',
    });
    expect((await cli(['status'], prefix)).out).toContain(
      'At the API: 2 requests of 2; 3 held back by the last flush for want of room',
    );
    expect(human.out).toContain('Circuit: closed');
  });

  it('migrate brings a store of before layout versions to the current layout, once', async () => {
    const { prefix, store } = await seed();
    // What the code before layout versions left: the same data, no layout key.
    await fx.redis.del(rawStore(store).keys.layout);
    expect((await cli(['status'], prefix)).out).toContain(
      "Store layout: 1, older than this version's: run `nightshift migrate`",
    );
    const first = await cli(['migrate'], prefix);
    expect(first.code).toBe(0);
    expect(first.out).toContain(`Store migrated from layout 1 to ${STORE_LAYOUT}`);
    expect(JSON.parse((await cli(['status', '--json'], prefix)).out).layout).toEqual({
      version: STORE_LAYOUT,
      migrationAvailable: false,
    });
    expect((await cli(['status'], prefix)).out).not.toContain('Store layout');
    expect((await cli(['migrate'], prefix)).out).toBe(
      `The store is at layout ${STORE_LAYOUT} already: nothing to migrate.`,
    );
  });

  it('migrate run again a day later removes the result jobs its first run kept for webhooks', async () => {
    const { prefix, store } = await seed();
    await new WebhookEndpoints(store).register({
      name: 'svc',
      url: 'https://example.com/hook',
      events: ['request.succeeded'],
    });
    // A result job handed over and kept completed for the webhooks, on a store of layout 1.
    const results = openQueue<ResultJobData>('results', fx.redis, prefix);
    const result = { customId: 'gone', feature: 'docs', metadata: {}, outcome: 'succeeded', attempt: 1 };
    await deliverResults(results, [{ id: 'res-b-1', results: [result] as never }], { keepCompleted: true });
    const worker = createResultWorker({ connection: fx.redis, prefix, handler: () => {} });
    try {
      await waitFor(async () => (await results.getJobState('res-b-1')) === 'completed', {
        what: 'the result job completed',
      });
    } finally {
      await worker.close();
    }
    await fx.redis.del(rawStore(store).keys.layout);
    expect((await cli(['migrate'], prefix)).out).toContain(
      '1 result jobs finished in the last day were kept for webhook endpoints',
    );
    expect(await results.getJobState('res-b-1')).toBe('completed');
    // The day has passed, as the first run asked: the same command removes the job.
    await fx.redis.hset(`${prefix}:{results}:res-b-1`, 'finishedOn', Date.now() - 86_400_001);
    expect((await cli(['migrate'], prefix)).out).toBe(
      `The store is at layout ${STORE_LAYOUT}: 0 delivered records compacted, 1 completed result jobs removed.`,
    );
    expect(await results.getJob('res-b-1')).toBeUndefined();
    expect((await cli(['migrate'], prefix)).out).toBe(
      `The store is at layout ${STORE_LAYOUT} already: nothing to migrate.`,
    );
    await results.close();
  });

  it('batches lists known batches with their counts', async () => {
    const { prefix } = await seed();
    const r = await cli(['batches', '--json'], prefix);
    expect(JSON.parse(r.out)).toMatchObject([{ id: 'msgbatch_01abc', requests: 2, reason: 'size' }]);
  });

  it('lists dead letters and retries them', async () => {
    const { prefix, store } = await seed();
    const list = JSON.parse((await cli(['dead-letters', '--json'], prefix)).out);
    expect(list).toMatchObject([
      { customId: 'b', reason: 'invalid_request_error: bad', lastError: { type: 'invalid_request_error' } },
    ]);
    const r = await cli(['retry-dead', 'b', 'nope', '--json'], prefix);
    expect(r.code).toBe(1); // one id was not a dead letter
    expect(JSON.parse(r.out)).toMatchObject({ retried: ['b'], unknown: ['nope'] });
    expect((await store.records.status('b')).state).toBe('queued');
    expect(JSON.parse((await cli(['dead-letters', '--json'], prefix)).out)).toEqual([]);
  });

  it('costs shows cost and savings per feature and model', async () => {
    const { prefix } = await seed();
    const r = await cli(['costs', '--days', '1', '--json'], prefix);
    const rep = JSON.parse(r.out);
    expect(rep.totals).toMatchObject({
      results: 1,
      costUsd: 0.00075,
      realtimeEquivalentUsd: 0.0015,
      savingsUsd: 0.00075,
    });
    expect((await cli(['costs'], prefix)).out).toContain('saved $0.0008');
  });

  it('budget set, list and rm: a budget of the feature named like it, raised in place, listed with its usage', async () => {
    const prefix = `c${++n}`;
    const store = new Store(fx.redis, prefix);
    const set = await cli(['budget', 'set', 'docs', '50/day', '--mode', 'refuse'], prefix);
    expect(set.code).toBe(0);
    expect(set.out).toBe(
      'Budget docs/day: $50.00 a day at batch price for feature docs, mode refuse, alert at 80 %.',
    );
    // raised: mode and scope kept
    await cli(['budget', 'set', 'docs', '$80/day'], prefix);
    await cli(['budget', 'set', 'tenant-a', '1200/month', '--partition', 'a', '--alert-at', '0.5'], prefix);
    expect(await store.budgets.list()).toMatchObject([
      { id: 'docs/day', feature: 'docs', limitUsd: 80, mode: 'refuse', alertAt: 0.8, source: 'cli' },
      { id: 'tenant-a/month', partition: 'a', limitUsd: 1200, mode: 'hold', alertAt: 0.5 },
    ]);
    // a claimed request of feature docs holds its estimate in the day budget
    await store.records.enqueue([{ ...item('a'), est: 2_500_000_000 }]);
    await claimInto(store, 'g', { max: 1, reason: 'size' });
    const list = await cli(['budget', 'list'], prefix);
    expect(list.out).toMatch(
      /docs\/day\s+feature docs\s+refuse\s+\$80\.00\s+\$0\.00\s+\$2\.50\s+\$77\.50\s+\$0\.00\s+3 %/,
    );
    const json = JSON.parse((await cli(['budget', 'list', '--json'], prefix)).out);
    expect(json[0]).toMatchObject({ id: 'docs/day', reserved: 2.5, spent: 0, remaining: 77.5 });
    expect((await cli(['status'], prefix)).out).toMatch(
      /Budget docs\/day: \$2\.50 of \$80\.00 \(\$0\.00 spent, \$2\.50 reserved\), resets in /,
    );
    expect(JSON.parse((await cli(['status', '--json'], prefix)).out).budgets[0]).toMatchObject({
      id: 'docs/day',
      reserved: 2.5,
    });
    expect((await cli(['budget', 'rm', 'docs'], prefix)).out).toBe('Removed docs/day.');
    expect((await cli(['budget', 'rm', 'docs'], prefix)).code).toBe(1);
    const bad = await cli(['budget', 'set', 'docs', '50/week'], prefix);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/dollars\/period/);
    expect((await cli(['budget', 'set', 'docs', '5/day', '--mode', 'stop'], prefix)).err).toMatch(
      /--mode must be hold or refuse/,
    );
  });

  it('shows an account refusal with its code and fix in status, and closes the circuit', async () => {
    const { prefix, store } = await seed();
    await store.circuit.open({
      kind: 'account',
      code: 'organization_on_hold',
      reason: '400 organization_on_hold: The organization is on hold.',
      fix: 'Appeal or contact Anthropic support.',
      cooldownMs: 60_000,
      maxCooldownMs: 60_000,
    });
    const status = (await cli(['status'], prefix)).out;
    expect(status).toContain(
      'Circuit: OPEN (the API refuses the account: organization_on_hold) since 0s ago — 400 organization_on_hold: The organization is on hold.',
    );
    expect(status).toContain('  Fix: Appeal or contact Anthropic support.');
    expect(status).toMatch(
      /Next probe \(one create\) in (59s|1m00s); after fixing it: nightshift circuit close/,
    );
    expect(status).toMatch(
      /\[circuit-open\] Submissions stopped \(the API refuses the account: organization_on_hold\)/,
    );
    expect((await cli(['circuit', 'close'], prefix)).out).toBe(
      'Circuit closed (was organization_on_hold): the batcher submits again on its next tick.',
    );
    expect((await store.circuit.state()).open).toBe(false);
    expect((await store.alerts.list()).map((a) => a.code)).not.toContain('circuit-open');
    expect((await cli(['circuit', 'close'], prefix)).out).toBe('Circuit was not open.');
  });

  it('health fails without a heartbeat or without the scheduler, and passes with both', async () => {
    const { prefix, store } = await seed();
    const flush = openQueue('flush', fx.redis, prefix);
    await flush.upsertJobScheduler(jobIds.flushScheduler, { every: 3_600_000 }, { name: 'tick' });
    expect((await cli(['health', 'batcher'], prefix)).code).toBe(1);
    await store.heartbeats.beat({
      role: 'batcher',
      instance: 'x',
      pid: 1,
      host: (await import('node:os')).hostname(),
      at: Date.now(),
    });
    expect((await cli(['health', 'batcher'], prefix)).code).toBe(0);
    // Removed (as Bull Board could before it refused to): the batcher still beats but never flushes.
    await flush.removeJobScheduler(jobIds.flushScheduler);
    await flush.close();
    const gone = await cli(['health', 'batcher'], prefix);
    expect(gone.code).toBe(1);
    expect(gone.out).toContain('the flush-tick scheduler is missing');
  });

  it('flush refuses clearly when no batcher is alive', async () => {
    const { prefix } = await seed();
    const r = await cli(['flush'], prefix);
    expect(r.code).toBe(1);
    expect(r.err).toContain('No batcher is running');
  });

  it('answers usage errors with exit 2 and configuration errors naming the variable', async () => {
    expect((await cli(['frobnicate'], 'x')).code).toBe(2);
    expect((await cli(['costs', '--days', '5'], 'x')).err).toContain('--days must be 1, 7 or 30');
    expect((await cli(['cancel', 'not-a-batch'], 'x')).err).toContain('is not a batch id');
    const bad = await runCliCaptured(['status'], { NIGHTSHIFT_TICK_MS: 'often' });
    expect(bad.code).toBe(2);
    expect(bad.all).toContain('NIGHTSHIFT_TICK_MS');
    expect(jobIds.deadLetter('b', 1)).toBe('dead-b-1');
  });
});
