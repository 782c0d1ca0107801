import { createRedis } from '@nightshift/store';
import { uniquePrefix, useRedis, waitFor } from '@nightshift/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../src/index.js';
import { haveChromium, openBrowser, screenshot, shots, shows } from './chromium.js';
import { type Lifecycle, seedLifecycle, startBoard } from './helpers.js';

const withChromium = haveChromium('browser.bull-board-requests.test.ts');

/** Bull Board's per-job buttons carry an icon, not a label: the icon names the action. */
const ICONS = { retry: 'lucide-refresh-cw', remove: 'lucide-trash-2', promote: 'lucide-arrow-up' } as const;
const jobButton = (page: Page, scope: string, action: keyof typeof ICONS) =>
  page.locator(scope).locator(`[class^="jobActions-"] button:has(svg.${ICONS[action]})`);
const card = (cid: string) => `[class^="card-"]:has([class^="jobId-"]:text-is("${cid}"))`;

/** The count on each status tab, as the page shows it. */
async function tabCounts(page: Page): Promise<Record<string, number>> {
  await page.locator('[class^="statusTabs-"] [class^="badge-"]').first().waitFor();
  const tabs = page.locator('[class^="statusTabs-"] li');
  const out: Record<string, number> = {};
  for (let i = 0; i < (await tabs.count()); i++) {
    const label = (await tabs.nth(i).locator('[data-text]').getAttribute('data-text')) ?? '';
    const badge = tabs.nth(i).locator('[class^="badge-"]');
    out[label.toLowerCase()] = (await badge.count()) ? Number(await badge.textContent()) : 0;
  }
  return out;
}

// Generous limits: a browser on a loaded 2-core machine is slow (these are not timing assertions).
describe.skipIf(!withChromium)('every request in Bull Board, in a real browser', { timeout: 120_000 }, () => {
  const fx = useRedis((url) => createRedis({ url }, 'client'));
  let board: Board;
  let readOnly: Board;
  let browser: Browser;
  let page: Page;
  let life: Lifecycle;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    life = await seedLifecycle(fx.redis, prefix, Date.now());
    board = await startBoard(fx.redis, prefix, { now: Date.now });
    readOnly = await startBoard(fx.redis, prefix, { now: Date.now, readOnly: true });
    ({ browser, page } = await openBrowser());
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await board?.close();
    await readOnly?.close();
    await Promise.all(life?.queues.map((q) => q.close()) ?? []);
  });

  it('counts the requests of each state on the status tabs', async () => {
    await page.goto(`${board.url}/queues/queue/requests`);
    await shows(page, 'requests', 'r-wait-1');
    expect(await tabCounts(page)).toMatchObject({
      waiting: 3,
      delayed: 1,
      active: 2,
      completed: 1,
      failed: 1,
    });
    if (shots) {
      await page.goto(`${board.url}/queues/queue/requests?status=active`);
      await shows(page, 'msgbatch_inflight01');
      await screenshot(page, 'bull-board-requests.png');
    }
  });

  it('shows one job of each state as a person reads it', async () => {
    const detail = async (cid: string, ...parts: string[]) => {
      await page.goto(`${board.url}/queues/queue/requests/${cid}`);
      return shows(page, cid, ...parts);
    };
    await detail(
      life.waiting[0]!,
      'state:"queued"',
      'feature:"classify-docs"',
      'model:"claude-haiku-4-5"',
      'partition:"acme"',
      'deadline:"',
      'ticket:"T-1042"',
      'max_tokens:64',
    );
    await detail(
      life.delayed,
      `readyAt:"${new Date(life.readyAt).toISOString()}"`,
      'overloaded_error',
      'attempt:2',
    );
    await detail(life.active[0]!, 'id:"msgbatch_inflight01"', 'status:"in_progress"', 'age:"12 min"');
    await detail(life.succeeded, `text:"${life.resultText}"`, 'input:1000', 'output:200', 'costUsd:0.001');
    if (shots) await screenshot(page, 'bull-board-request.png');
    // A dead request opens on its Error tab: reason, last error and the attempt history.
    await detail(
      life.dead,
      'attempt 1 in msgbatch_done01: errored (invalid_request_error: messages.0.content: must not be empty)',
    );
    await page.getByRole('tab', { name: 'Data' }).click();
    await shows(page, 'reason:"invalid_request"', 'message:"messages.0.content: must not be empty"');
  });

  it('retries a dead request and cancels a queued one with Bull Board’s own buttons', async () => {
    await page.goto(`${board.url}/queues/queue/requests?status=failed`);
    await shows(page, life.dead);
    await jobButton(page, card(life.dead), 'retry').click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await waitFor(async () => (await life.store.records.get(life.dead))?.state === 'queued', {
      what: 'the dead request queued again',
    });
    expect(await life.queues[1]!.getJob(life.deadJobId)).toBeUndefined();

    const victim = life.waiting[2]!;
    await page.goto(`${board.url}/queues/queue/requests?status=waiting`);
    await shows(page, victim);
    await jobButton(page, card(victim), 'remove').click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await waitFor(async () => (await life.store.records.get(victim))?.state === 'canceled', {
      what: 'the queued request canceled',
    });
    expect((await life.store.records.status(victim)).state).toBe('canceled');
    await page.goto(`${board.url}/queues/queue/requests`);
    await shows(page, 'r-wait-1');
    // The retried one waits again; the canceled one is gone from every list.
    expect(await tabCounts(page)).toMatchObject({
      waiting: 3,
      delayed: 1,
      active: 2,
      completed: 1,
      failed: 0,
    });
  });

  it('links each request and batch of the overview to its Bull Board view', async () => {
    await page.goto(`${board.url}/`);
    await page.locator('[data-testid="requests"]').getByRole('link', { name: life.waiting[0]! }).click();
    await shows(page, life.waiting[0]!, 'state:"queued"');
    expect(page.url()).toBe(`${board.url}/queues/queue/requests/${life.waiting[0]}`);
    await page.goto(`${board.url}/`);
    await page
      .locator(`[data-batch="${life.inflightBatch}"]`)
      .getByRole('link', { name: life.inflightBatch })
      .click();
    await shows(page, `batch-${life.inflightBatch}`);
  });

  it('has no buttons in read-only mode, and its API refuses them', async () => {
    await page.goto(`${readOnly.url}/queues/queue/requests?status=waiting`);
    await shows(page, 'read-only', life.waiting[0]!);
    expect(await page.locator('[class^="jobActions-"] button').count()).toBe(0);
    await page.goto(`${readOnly.url}/queues/queue/requests?status=delayed`);
    await shows(page, life.delayed);
    expect(await page.locator('[class^="jobActions-"] button').count()).toBe(0);
    for (const [cid, action] of [
      [life.waiting[0]!, 'clean'],
      [life.delayed, 'promote'],
      [life.dead, 'retry'],
    ] as const) {
      const res = await fetch(`${readOnly.url}/queues/api/queues/requests/${cid}/${action}`, {
        method: 'PUT',
        headers: { origin: readOnly.url },
      });
      expect(res.status, `${action} ${cid}`).toBe(403);
    }
    expect((await life.store.records.get(life.waiting[0]!))?.state).toBe('queued');
    expect((await life.store.records.get(life.delayed))?.state).toBe('queued');
  });
});
