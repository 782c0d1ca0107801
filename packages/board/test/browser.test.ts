import { fileURLToPath } from 'node:url';
import { DEFAULT_PRICES, jobIds } from '@nightshift/shared';
import { buildSuccess, createRedis, openQueue, type RedisClient, type Store } from '@nightshift/store';
import { type RedisServer, startRedisServer, uniquePrefix, waitFor } from '@nightshift/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { haveChromium, openBrowser, screenshot, shots, shows } from './chromium.js';
import { item, MIN, message, type Seeded, seed, startBoard } from './helpers.js';

/** The browser's own global (the test is compiled without the DOM lib; the function runs in Chromium). */
declare const getComputedStyle: (el: unknown) => { backgroundColor: string };

const withChromium = haveChromium('browser.test.ts');

/** More history than {@link seed}: a collected batch with results across three features and three models, and a flush record. */
async function showcase(store: Store, redis: RedisClient, prefix: string, now: number) {
  const features: [string, string, number, number][] = [
    ['weekly-digest', 'claude-sonnet-4-5', 6000, 900],
    ['extract-entities', 'claude-opus-4-6', 3000, 700],
    ['summarize-tickets', 'claude-haiku-4-5', 2500, 400],
    ['classify-docs', 'claude-haiku-4-5', 1200, 150],
  ];
  const items = features.flatMap(([feature, model], f) =>
    Array.from({ length: 3 + f }, (_, i) => item(`${feature}-${i}`, { feature, model, group: 'g-hist' })),
  );
  await store.records.enqueue(items, { now: now - 9 * 60 * MIN });
  await store.submissions.open({
    id: 's0',
    partition: 'default',
    reason: 'time',
    owner: 'batcher-1',
    leaseMs: MIN,
    now: now - 8 * 60 * MIN,
  });
  await store.submissions.claim('g-hist', 's0', 1000, 1e9, now - 8 * 60 * MIN);
  const batchId = 'msgbatch_01HISTORY0000';
  await store.submissions.commit(
    's0',
    {
      id: batchId,
      created_at: new Date(now - 8 * 60 * MIN).toISOString(),
      expires_at: new Date(now + 16 * 60 * MIN).toISOString(),
      processing_status: 'in_progress',
    },
    { count: items.length, bytes: items.length * 120, partition: 'default', reason: 'time' },
    now - 8 * 60 * MIN,
  );
  const applied = items.map((it, i) => {
    const [, , input, output] = features.find(([f]) => f === it.feature)!;
    return buildSuccess({
      customId: it.cid,
      feature: it.feature,
      metadata: null,
      model: it.model,
      message: message(it.model, input + i * 37, output + i * 11),
      mode: 'batch',
      batchId,
      attempt: 1,
      prices: DEFAULT_PRICES,
      now: now - 7 * 60 * MIN,
    }).item;
  });
  // Spread over the last six days so the daily chart has a shape.
  for (let d = 0; d < 6; d++) {
    const part = applied.filter((_, i) => i % 6 === d);
    await store.outcomes.apply(part, now - d * 24 * 60 * MIN - 7 * 60 * MIN);
  }
  await store.batches.update(batchId, { status: 'ended', state: 'ended', ended: now - 7 * 60 * MIN });
  await store.batches.markCollected(batchId, { succeeded: items.length, errored: 0 }, now - 7 * 60 * MIN);
  await store.flushLog.record({
    at: now - 5 * MIN,
    batchId: 'msgbatch_seed0001',
    requests: 3,
    bytes: 360,
    reason: 'size',
    durationMs: 412,
  });
  await store.flushLog.record({
    at: now - 8 * 60 * MIN,
    batchId,
    requests: items.length,
    bytes: items.length * 120,
    reason: 'time',
    durationMs: 388,
  });
  // The tracking job Bull Board shows for the batch in flight.
  const batches = openQueue('batches', redis, prefix);
  await batches.add(
    'track',
    {
      batchId: 'msgbatch_seed0001',
      submissionId: 's1',
      requestCount: 3,
      bytes: 360,
      partition: 'default',
      reason: 'size',
      submittedAt: now - 5 * MIN,
    },
    { jobId: jobIds.batch('msgbatch_seed0001'), delay: 60_000 },
  );
  await batches.close();
}

/** Two budgets: one with spend and reservations (past its 30 % alert), one untouched. */
async function budgets(store: Store, now: number) {
  await store.budgets.set({
    name: 'digest',
    period: 'day',
    limitUsd: 10,
    feature: 'weekly-digest',
    mode: 'hold',
    alertAt: 0.3,
  });
  await store.budgets.set({
    name: 'tenant-acme',
    period: 'month',
    limitUsd: 250,
    partition: 'acme',
    mode: 'refuse',
    alertAt: 0.8,
  });
  await store.records.enqueue(
    [0, 1].map((i) =>
      item(`budget-${i}`, { feature: 'weekly-digest', group: 'g-budget', est: 2_500_000_000 }),
    ),
    { now },
  );
  await store.submissions.open({
    id: 's-budget',
    partition: 'default',
    reason: 'time',
    owner: 't',
    leaseMs: 60_000,
    now,
  });
  await store.submissions.claim('g-budget', 's-budget', 10, 1e9, now);
  const success = buildSuccess({
    customId: 'budget-0',
    feature: 'weekly-digest',
    metadata: null,
    model: 'claude-haiku-4-5',
    message: message('claude-haiku-4-5', 1_000_000, 100_000),
    mode: 'batch',
    batchId: 'msgbatch_budget',
    attempt: 1,
    prices: DEFAULT_PRICES,
    now,
  });
  await store.outcomes.apply([success.item], now);
}

// Generous limits: a browser on a loaded 2-core machine is slow (these are not timing assertions).
describe.skipIf(!withChromium)('the board in a real browser', { timeout: 90_000 }, () => {
  let server: RedisServer;
  let redis: RedisClient;
  let board: Board;
  let browser: Browser;
  let page: Page;
  let seeded: Seeded;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedis({ url: server.url }, 'client');
    const now = Date.now();
    seeded = await seed(redis, prefix, now);
    await showcase(seeded.store, redis, prefix, now);
    await budgets(seeded.store, now);
    board = await startBoard(redis, prefix, { now: Date.now });
    ({ browser, page } = await openBrowser());
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await board?.close();
    await seeded?.deadLetters.close();
    await redis?.quit();
    await server?.stop();
  });

  it('shows waiting requests, a batch in flight, red liveness, the cost chart and a dead letter', async () => {
    const violations: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${board.url}/`);
    expect(await page.getByTestId('tile-waiting').locator('.tile-value').textContent()).toBe('4');
    await expect(page.locator('[data-batch="msgbatch_seed0001"]').count()).resolves.toBe(1);
    const batcher = page.getByTestId('batcher-state');
    expect(await batcher.textContent()).toBe('NO HEARTBEAT');
    expect(await batcher.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(192, 38, 45)');
    expect(await page.getByTestId('collector-state').textContent()).toBe('OK');
    const bars = page.locator('#costs svg rect.bar-paid');
    expect(await bars.count()).toBeGreaterThanOrEqual(4);
    expect(Number(await bars.first().getAttribute('width'))).toBeGreaterThan(1);
    const dead = page.locator('[data-dead="c3"]');
    expect(await dead.textContent()).toContain('invalid_request');
    expect(await dead.getByRole('button', { name: 'Retry' }).isVisible()).toBe(true);
    expect(violations).toEqual([]);
  });

  it('draws each budget as a bar of spent, reserved and remaining, amber past its alert', async () => {
    await page.goto(`${board.url}/#budgets`);
    const row = page.locator('[data-budget="digest/day"]');
    expect(await row.getAttribute('class')).toBe('row-warn');
    const spent = Number(await row.locator('rect.bar-paid').getAttribute('width'));
    const reserved = Number(await row.locator('rect.bar-reserved').getAttribute('width'));
    // $0.75 spent and $2.50 reserved of $10 on a 240-wide bar
    expect(spent).toBeCloseTo(18, 0);
    expect(reserved).toBeCloseTo(60, 0);
    expect(await row.textContent()).toContain('$6.75');
    const idle = page.locator('[data-budget="tenant-acme/month"]');
    expect(Number(await idle.locator('rect.bar-reserved').getAttribute('width'))).toBe(0);
    expect(await idle.textContent()).toContain('partition acme');
    if (shots) {
      const path = fileURLToPath(new URL('../../../docs/board-budgets.png', import.meta.url));
      await page.locator('#budgets').screenshot({ path });
    }
  });

  it('turns liveness green on the next refresh once the batcher beats', async () => {
    await seeded.store.heartbeats.beat({
      role: 'batcher',
      instance: 'batcher-1',
      pid: 311,
      host: 'worker-a',
      at: Date.now(),
      lastWork: Date.now() - 5 * MIN,
    });
    await waitFor(async () => (await page.getByTestId('batcher-state').textContent()) === 'OK', {
      what: 'batcher OK after refresh',
      timeoutMs: 45_000,
    });
    if (shots) await screenshot(page, 'board-overview.png', true);
  });

  it('lists the Nightshift queues in Bull Board with readable job data', async () => {
    await page.goto(`${board.url}/queues`);
    await shows(
      page,
      'batches in flight',
      'dead letters',
      'results',
      'flush (batcher ticks)',
      '{dead-letters}',
    );
    if (shots) await screenshot(page, 'board-queues.png');
    await page.goto(`${board.url}/queues/queue/${encodeURIComponent('{dead-letters}')}/${seeded.deadJobId}`);
    await shows(
      page,
      'customId:"c3"',
      'reason:"invalid_request"',
      'max_tokens: must be at most 8192',
      'max_tokens:64',
    );
    await page.goto(`${board.url}/queues/queue/${encodeURIComponent('{batches}')}/batch-msgbatch_seed0001`);
    await shows(page, 'batchId:"msgbatch_seed0001"', 'requestCount:3');
  });

  it('retries a dead letter when Retry is clicked', async () => {
    await page.goto(`${board.url}/`);
    await page.locator('[data-dead="c3"]').getByRole('button', { name: 'Retry' }).click();
    await page.locator('[data-dead="c3"]').waitFor({ state: 'detached' });
    expect(await page.locator('#notice').textContent()).toContain('c3 is queued again');
    expect((await seeded.store.records.get('c3'))?.state).toBe('queued');
    expect(await seeded.deadLetters.getJob(seeded.deadJobId)).toBeUndefined();
    expect(await page.getByTestId('tile-waiting').locator('.tile-value').textContent()).toBe('5');
  });
});
