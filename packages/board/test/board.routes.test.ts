import { DEFAULT_PRICES } from '@nightshift/shared';
import { buildSuccess, createRedis, Store } from '@nightshift/store';
import { claimInto, freePort, uniquePrefix, useRedis } from '@nightshift/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BoardCostReport } from '../src/costs.js';
import type { BatchView, DeadLetterView, Overview, QueuedRequestView } from '../src/data.js';
import type { Board } from '../src/index.js';
import { type ErrorBody, getJson, item, message, type Seeded, seed, startBoard, T0 } from './helpers.js';

const fx = useRedis((url) => createRedis({ url: url }, 'client'));
let board: Board;
let seeded: Seeded;

beforeAll(async () => {
  const prefix = uniquePrefix();
  seeded = await seed(fx.redis, prefix);
  board = await startBoard(fx.redis, prefix);
});
afterAll(async () => {
  await board.close();
  await seeded.deadLetters.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${board.url}${path}`, init);
const json = <T>(path: string) => getJson<T>(`${board.url}${path}`);

describe('the overview page', () => {
  it('renders every panel server-side, readable without JavaScript', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const page = await res.text();
    for (const part of [
      'Requests waiting',
      'msgbatch_seed0001',
      'NO HEARTBEAT',
      'invalid_request',
      'Retry',
      'class="bar bar-paid"',
      'weekly-digest',
      '<meta name="csrf-token"',
    ]) {
      expect(page).toContain(part);
    }
    // The page's script and style carry the nonce announced in the CSP.
    const nonce = /'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1];
    expect(nonce).toBeTruthy();
    expect(page).toContain(`<script nonce="${nonce}">`);
  });

  it('shows a refusal with its code and fix, a deprecated model, and US-only inference', async () => {
    const prefix = uniquePrefix();
    const store = new Store(fx.redis, prefix);
    const usage = (model: string, geo: string | null) => {
      const m = message(model, 1000, 200);
      return { ...m, usage: { ...m.usage, inference_geo: geo } } as typeof m;
    };
    await store.records.enqueue(
      [item('u1', { model: 'claude-sonnet-4-6' }), item('o1', { model: 'claude-opus-4-5' })],
      {
        now: T0 - 60_000,
      },
    );
    const success = (cid: string, model: string, geo: string | null) =>
      buildSuccess({
        customId: cid,
        feature: 'classify-docs',
        metadata: null,
        model,
        message: usage(model, geo),
        mode: 'batch',
        batchId: null,
        attempt: 1,
        prices: DEFAULT_PRICES,
        now: T0 - 1_000,
      }).item;
    await store.outcomes.apply(
      [success('u1', 'claude-sonnet-4-6', 'us'), success('o1', 'claude-opus-4-5', null)],
      T0 - 1_000,
    );
    await store.circuit.open(
      {
        kind: 'account',
        code: 'workspace_human_review_disabled',
        reason: '400 workspace_human_review_disabled: Human Review is off.',
        fix: 'Turn Human Review on in the Console.',
        cooldownMs: 60_000,
        maxCooldownMs: 60_000,
      },
      T0 - 1_000,
    );
    const b = await startBoard(fx.redis, prefix);
    try {
      const page = await (await fetch(`${b.url}/`)).text();
      for (const part of [
        'STOPPED (account refused: workspace_human_review_disabled)',
        '<span data-testid="circuit-reason">400 workspace_human_review_disabled: Human Review is off.</span>',
        '<span data-testid="circuit-fix">Turn Human Review on in the Console.</span>',
        'Requests stay queued; nothing is dead-lettered.',
        'deprecated · retires 2027-01-22 → claude-opus-5-5',
        '1 ran US-only (inference_geo "us", 1.1×)',
        '(1 US-only)',
      ]) {
        expect(page).toContain(part);
      }
      const m = await (await fetch(`${b.url}/metrics`)).text();
      expect(m).toContain(
        'nightshift_circuit_refusal{kind="account",code="workspace_human_review_disabled"} 1',
      );
      expect(m).toContain(
        'nightshift_us_inference_results_total{feature="classify-docs",model="claude-sonnet-4-6"} 1',
      );
    } finally {
      await b.close();
    }
  });

  it('validates the cost window', async () => {
    expect((await get('/?days=30')).status).toBe(200);
    const bad = await get('/?days=0');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error).toMatch(/days must be/);
  });

  it('shows a fixed notice after a form action, never text taken from the URL', async () => {
    const page = await (await get('/?done=retried&n=2')).text();
    expect(page).toContain('2 dead-lettered requests queued again.');
    const spoof = await (await get('/?done=%3Cscript%3Ealert(1)%3C/script%3E')).text();
    expect(spoof).not.toContain('<script>alert(1)');
  });
});

describe('the JSON endpoints', () => {
  it('/api/overview answers the page data, and the panels as HTML when asked', async () => {
    const o = await json<Overview & { fragments?: Record<string, string> }>('/api/overview');
    expect(o.waiting).toMatchObject({ total: 4, oldestAgeMs: 600_000 });
    expect(o.inflight.map((b) => b.id)).toEqual([seeded.batchId]);
    expect(o.inflight[0]).toMatchObject({ requestCount: 3, ageMs: 300_000, counts: { succeeded: 2 } });
    expect(o.liveness.batcher.state).toBe('missing');
    expect(o.liveness.collector.state).toBe('ok');
    expect(o.deadLetters.total).toBe(1);
    expect(o.fragments).toBeUndefined();
    const withHtml = await json<{ fragments: Record<string, string> }>('/api/overview?fragments=1&days=1');
    expect(Object.keys(withHtml.fragments)).toEqual(
      expect.arrayContaining([
        'status',
        'summary',
        'liveness',
        'batches',
        'costs',
        'dead-letters',
        'requests',
      ]),
    );
    expect(withHtml.fragments['dead-letters']).toContain('data-dead="c3"');
  });

  it('/api/batches lists in-flight and recent batches', async () => {
    const b = await json<{ inflight: BatchView[]; recent: BatchView[] }>('/api/batches?limit=5');
    expect(b.inflight).toHaveLength(1);
    expect(b.recent[0]).toMatchObject({ id: seeded.batchId, status: 'in_progress', expiresInMs: 86_100_000 });
    expect((await get('/api/batches?limit=0')).status).toBe(400);
  });

  it("/api/costs answers the store's cost report for 1, 7 or 30 days", async () => {
    const c = await json<BoardCostReport>('/api/costs?days=7');
    expect(c).toMatchObject({ days: 7, from: '2026-11-14', to: '2026-11-20', unpricedModels: [] });
    expect(c.totals.results).toBe(2);
    expect(c.totals.costUsd).toBeCloseTo(seeded.paid, 9);
    expect(c.totals.realtimeEquivalentUsd).toBeCloseTo(seeded.list, 9);
    expect(c.totals.savingsUsd).toBeCloseTo(seeded.list - seeded.paid, 9);
    expect(c.byFeature.map((l) => l.feature)).toEqual(['classify-docs']);
    expect(c.byModel[0]).toMatchObject({ model: 'claude-haiku-4-5', batchResults: 2 });
    expect((await json<BoardCostReport>('/api/costs?days=1')).totals.results).toBe(2);
    expect((await json<BoardCostReport>('/api/costs?days=30')).days).toBe(30);
    for (const bad of ['0', '3', '31', 'x'])
      expect((await get(`/api/costs?days=${bad}`)).status, bad).toBe(400);
  });

  it('/api/dead-letters shows why each request died', async () => {
    const d = await json<{ total: number; items: DeadLetterView[] }>('/api/dead-letters');
    expect(d.total).toBe(1);
    expect(d.items[0]).toMatchObject({
      jobId: 'dead-c3-1',
      customId: 'c3',
      feature: 'classify-docs',
      reason: 'invalid_request',
      attempts: 1,
      lastError: { type: 'invalid_request_error' },
    });
  });

  it('/api/requests lists queued requests, oldest group first', async () => {
    const r = await json<{ total: number; items: QueuedRequestView[] }>('/api/requests?limit=3');
    expect(r.total).toBe(4);
    expect(r.items.map((i) => i.customId)).toEqual(['c4', 'c5', 'd1']);
    expect(r.items[0]).toMatchObject({
      feature: 'classify-docs',
      model: 'claude-haiku-4-5',
      attempt: 1,
      ageMs: 600_000,
    });
  });

  it('/api/admission answers the requests at the API against the cap the last flush applied; the page shows them', async () => {
    const prefix = uniquePrefix();
    const store = new Store(fx.redis, prefix);
    const b = await startBoard(fx.redis, prefix);
    const tile = async () => {
      const page = await (await fetch(`${b.url}/`)).text();
      return (
        /<div class="tile[^"]*" data-testid="tile-admission">[\s\S]*?<\/div>\s*<\/div>/.exec(page)?.[0] ?? ''
      );
    };
    try {
      expect(await getJson(`${b.url}/api/admission`)).toEqual({
        inFlight: 0,
        batches: 0,
        cap: null,
        held: 0,
        lastFlushAt: null,
      });
      expect(await tile()).toContain('no flush yet');
      await store.submissions.open({
        id: 's1',
        partition: 'p',
        reason: 'size',
        owner: 't',
        leaseMs: 1000,
        now: T0,
      });
      await store.submissions.commit(
        's1',
        {
          id: 'msgbatch_cap1',
          created_at: new Date(T0).toISOString(),
          expires_at: new Date(T0 + 86_400_000).toISOString(),
          processing_status: 'in_progress',
        },
        { count: 40, bytes: 4000, partition: 'p', reason: 'size' },
        T0,
      );
      await store.admission.record({ cap: 40, inFlight: 40, held: 7, at: T0, instance: 'b1' });
      expect(await getJson(`${b.url}/api/admission`)).toEqual({
        inFlight: 40,
        batches: 1,
        cap: 40,
        held: 7,
        lastFlushAt: T0,
      });
      const full = await tile();
      expect(full).toContain('tile-warn');
      expect(full).toContain('At the API');
      expect(full).toContain('of 40; 7 held back');
      expect((await getJson<Overview>(`${b.url}/api/overview`)).admission.cap).toBe(40);

      await store.batches.update('msgbatch_cap1', { state: 'ended', status: 'ended' });
      await store.admission.record({ cap: 100, inFlight: 0, held: 0, at: T0 + 1, instance: 'b1' });
      expect(await tile()).toContain('of 100 (0 %)');
    } finally {
      await b.close();
    }
  });

  it('/api/budgets answers each budget with spent, reserved and remaining; the page draws their bars', async () => {
    const prefix = uniquePrefix();
    const store = new Store(fx.redis, prefix);
    const b = await startBoard(fx.redis, prefix);
    try {
      expect(await getJson(`${b.url}/api/budgets`)).toEqual([]);
      expect(await (await fetch(`${b.url}/`)).text()).toContain('No budgets.');
      await store.budgets.set({
        name: 'docs',
        period: 'day',
        limitUsd: 5,
        feature: 'classify-docs',
        mode: 'hold',
        alertAt: 0.5,
      });
      await store.records.enqueue([item('a', { est: 3_000_000_000 }), item('b', { est: 1_000_000_000 })], {
        now: T0,
      });
      await claimInto(store, 'g-default', { now: T0, reason: 'size' });
      const price = DEFAULT_PRICES['claude-haiku-4-5']!;
      const cost = (1_000 * price.input + 100 * price.output) / 1e6 / 2;
      const success = buildSuccess({
        customId: 'b',
        feature: 'classify-docs',
        metadata: null,
        model: 'claude-haiku-4-5',
        message: message('claude-haiku-4-5', 1_000, 100),
        mode: 'batch',
        batchId: 'msgbatch_b',
        attempt: 1,
        prices: DEFAULT_PRICES,
        now: T0,
      });
      await store.outcomes.apply([success.item], T0);
      const [docs] = await getJson<
        { id: string; reserved: number; spent: number; remaining: number; window: string }[]
      >(`${b.url}/api/budgets`);
      expect(docs).toMatchObject({
        id: 'docs/day',
        window: '2026-11-20',
        reserved: 3,
        limitUsd: 5,
        mode: 'hold',
      });
      expect(docs!.spent).toBeCloseTo(cost, 9);
      expect(docs!.remaining).toBeCloseTo(5 - 3 - cost, 9);
      const page = await (await fetch(`${b.url}/`)).text();
      const row = /<tr class="([^"]*)" data-budget="docs\/day">[\s\S]*?<\/tr>/.exec(page);
      // 3 reserved + spent of 5 is past the 50 % alert: the row is amber
      expect(row?.[1]).toBe('row-warn');
      expect(row?.[0]).toContain('class="bar bar-reserved"');
      expect(row?.[0]).toContain('$3.00');
      expect((await getJson<Overview>(`${b.url}/api/overview`)).budgets).toHaveLength(1);
    } finally {
      await b.close();
    }
  });

  it('answers 404 as JSON for unknown paths', async () => {
    const res = await get('/api/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'Not found.' });
  });
});

describe('Bull Board under /queues', () => {
  it('serves its UI titled Nightshift with a link back to the overview', async () => {
    const res = await get('/queues');
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('<base href="/queues/"');
    expect(page).toContain('"boardTitle":"Nightshift"');
    expect(page).toContain('"url":"/"');
    const asset = /src="(static\/js\/main\.[^"]+)"/.exec(page)?.[1];
    const js = await get(`/queues/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('x-powered-by')).toBeNull();
  });

  it('lists every Nightshift queue with its label, and job data is readable', async () => {
    const { queues } = await json<{ queues: { name: string; displayName: string; readOnlyMode: boolean }[] }>(
      '/queues/api/queues?activeQueue=%7Bdead-letters%7D&status=waiting',
    );
    const names = queues.map((q) => q.name).sort();
    expect(names).toEqual([
      'requests',
      '{batches}',
      '{collect}',
      '{dead-letters}',
      '{flush}',
      '{results}',
      '{webhooks}',
    ]);
    const dead = queues.find((q) => q.name === '{dead-letters}');
    expect(dead?.displayName).toBe('dead letters');
    expect(dead?.readOnlyMode).toBe(false);
    const job = await json<{ job: { data: unknown } }>('/queues/api/queues/%7Bdead-letters%7D/dead-c3-1');
    expect(job.job.data).toMatchObject({
      customId: 'c3',
      reason: 'invalid_request',
      params: { max_tokens: 64 },
    });
  });
});

describe('/metrics and /healthz', () => {
  it('/metrics answers Prometheus text', async () => {
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('# TYPE nightshift_requests_queued gauge');
  });

  it('/healthz is 200 while Redis answers; 503 and a clear page when it does not', async () => {
    const ok = await get('/healthz');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });

    const deadRedis = createRedis({ url: `redis://127.0.0.1:${await freePort()}` }, 'client');
    deadRedis.on('error', () => {});
    const orphan = await startBoard(deadRedis, uniquePrefix());
    try {
      const down = await fetch(`${orphan.url}/healthz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { ok: boolean }).ok).toBe(false);
      // The page says what is wrong (and reloads itself); JSON clients get the same sentence.
      const page = await fetch(`${orphan.url}/`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('The board cannot reach Redis');
      const api = await fetch(`${orphan.url}/api/overview`);
      expect(api.status).toBe(503);
      expect(((await api.json()) as ErrorBody).error).toMatch(/cannot reach Redis/);
    } finally {
      await orphan.close();
      deadRedis.disconnect();
    }
  });
});

describe('security headers', () => {
  it('are set on the page, the JSON, Bull Board and errors, without X-Powered-By', async () => {
    for (const path of [
      '/',
      '/api/overview',
      '/queues',
      '/queues/api/queues',
      '/metrics',
      '/healthz',
      '/nope',
    ]) {
      const res = await get(path);
      const h = res.headers;
      expect(h.get('x-powered-by'), path).toBeNull();
      expect(h.get('x-content-type-options'), path).toBe('nosniff');
      expect(h.get('x-frame-options'), path).toBe('DENY');
      expect(h.get('referrer-policy'), path).toBe('no-referrer');
      const csp = h.get('content-security-policy') ?? '';
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("default-src 'self'");
      expect(csp, path).not.toContain('unsafe-eval');
    }
    // Inline styles are allowed for Bull Board's UI only.
    expect((await get('/queues')).headers.get('content-security-policy')).toContain(
      "style-src 'self' 'unsafe-inline'",
    );
    expect((await get('/')).headers.get('content-security-policy')).not.toContain('unsafe-inline');
  });
});
