import type { DeadLetterPayload, Message } from '@nightshift/shared';
import { createLogger, DEFAULT_PRICES, jobIds, type Logger } from '@nightshift/shared';
import {
  addDeadLetters,
  buildSuccess,
  deliverResults,
  type EnqueueItem,
  openQueue,
  type RedisClient,
  Store,
} from '@nightshift/store';
import { silentLogger } from '@nightshift/testing';
import type { Queue } from 'bullmq';
import { createBoard } from '../src/index.js';
import type { Board, BoardOptions } from '../src/options.js';

/** A fixed clock so ages and metrics are exact. */
export const T0 = Date.parse('2026-11-20T12:00:00Z');
export const MIN = 60_000;

/** A logger whose JSON lines are kept for assertions. */
export function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = createLogger('board-test', 'info', { write: (s: string) => void raw.push(s) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export function item(cid: string, over: Partial<EnqueueItem> = {}): EnqueueItem {
  const model = over.model ?? 'claude-haiku-4-5';
  return {
    cid,
    feature: 'classify-docs',
    model,
    params: JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: `doc ${cid}` }] }),
    phash: `h-${cid}`,
    meta: '',
    deadline: null,
    partition: 'default',
    group: 'g-default',
    bytes: 120,
    realtimeAllowed: false,
    state: 'queued',
    ...over,
  };
}

export function message(model: string, input: number, output: number): Message {
  return {
    id: `msg_${input}_${output}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'label: invoice', citations: null }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: input,
      output_tokens: output,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: null,
      server_tool_use: null,
      service_tier: 'batch',
    },
  } as unknown as Message;
}

/** What {@link seed} wrote, for assertions. */
export interface Seeded {
  store: Store;
  deadLetters: Queue;
  batchId: string;
  deadJobId: string;
  deadCid: string;
  /** Dollars at batch price for the two successes (haiku 4.5: 1000 in + 200 out each). */
  paid: number;
  list: number;
}

/**
 * A known state without batcher or collector: 7 requests enqueued 10 min before T0 (5 in partition
 * `default`, 2 in `acme`), 3 claimed into a committed batch, of which 2 succeeded (ledger) and 1
 * died (dead-letter job). 4 stay queued. Both schedulers exist; a collector heartbeat is fresh, the
 * batcher has none.
 */
export async function seed(redis: RedisClient, prefix: string, t0 = T0): Promise<Seeded> {
  const store = new Store(redis, prefix);
  const enq = t0 - 10 * MIN;
  await store.records.enqueue(
    ['c1', 'c2', 'c3', 'c4', 'c5'].map((c) => item(c)),
    { now: enq },
  );
  await store.records.enqueue(
    ['d1', 'd2'].map((c) =>
      item(c, { feature: 'weekly-digest', model: 'claude-sonnet-4-5', partition: 'acme', group: 'g-acme' }),
    ),
    { now: enq + MIN },
  );
  await store.submissions.open({
    id: 's1',
    partition: 'default',
    reason: 'size',
    owner: 'test',
    leaseMs: MIN,
    now: t0 - 5 * MIN,
  });
  await store.submissions.claim('g-default', 's1', 3, 1_000_000, t0 - 5 * MIN);
  const batchId = 'msgbatch_seed0001';
  await store.submissions.commit(
    's1',
    {
      id: batchId,
      created_at: new Date(t0 - 5 * MIN).toISOString(),
      expires_at: new Date(t0 - 5 * MIN + 24 * 60 * MIN).toISOString(),
      processing_status: 'in_progress',
    },
    { count: 3, bytes: 360, partition: 'default', reason: 'size' },
    t0 - 5 * MIN,
  );
  await store.batches.update(batchId, {
    counts: JSON.stringify({ processing: 1, succeeded: 2, errored: 0 }),
  });
  const successes = ['c1', 'c2'].map(
    (cid) =>
      buildSuccess({
        customId: cid,
        feature: 'classify-docs',
        metadata: null,
        model: 'claude-haiku-4-5',
        message: message('claude-haiku-4-5', 1000, 200),
        mode: 'batch',
        batchId,
        attempt: 1,
        prices: DEFAULT_PRICES,
        now: t0 - MIN,
      }).item,
  );
  const entry = {
    attempt: 1,
    batchId,
    outcome: 'errored' as const,
    errorType: 'invalid_request_error',
    at: t0 - MIN,
  };
  const error = { type: 'invalid_request_error', message: 'max_tokens: must be at most 8192' };
  await store.outcomes.apply(
    [...successes, { cid: 'c3', action: 'dead', guardSub: 's1', reason: 'invalid_request', error, entry }],
    t0 - MIN,
  );
  const deadLetters = openQueue('deadLetters', redis, prefix);
  const payload: DeadLetterPayload = {
    customId: 'c3',
    feature: 'classify-docs',
    model: 'claude-haiku-4-5',
    reason: 'invalid_request',
    lastError: error,
    attempts: [entry],
    batchId,
    params: JSON.parse(item('c3').params),
    metadata: null,
    deadAt: t0 - MIN,
  };
  await addDeadLetters(deadLetters, [{ payload, deaths: 1 }]);
  await upsertSchedulers(redis, prefix);
  await store.heartbeats.beat({
    role: 'collector',
    instance: 'col-1',
    pid: 4242,
    host: 'worker-a',
    at: t0 - 20_000,
    lastWork: t0 - 30_000,
  });
  return { store, deadLetters, batchId, deadJobId: 'dead-c3-1', deadCid: 'c3', paid: 0.002, list: 0.004 };
}

/** The `flush-tick` and `collect-tick` schedulers, as a batcher and a collector put them at start-up. */
async function upsertSchedulers(redis: RedisClient, prefix: string): Promise<void> {
  for (const [role, id] of [
    ['flush', jobIds.flushScheduler],
    ['collect', jobIds.collectScheduler],
  ] as const) {
    const q = openQueue(role, redis, prefix);
    await q.upsertJobScheduler(id, { every: 3_600_000 }, { name: 'tick' });
    await q.close();
  }
}

/** Starts a board on a free port with the fixed clock and a silent logger. */
export function startBoard(
  redis: RedisClient,
  prefix: string,
  over: Partial<BoardOptions> = {},
): Promise<Board> {
  return createBoard({ connection: redis, prefix, port: 0, now: () => T0, logger: silentLogger, ...over });
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Reads the CSRF token the overview page embeds. */
export async function csrfToken(url: string, headers: Record<string, string> = {}): Promise<string> {
  const page = await (await fetch(`${url}/`, { headers })).text();
  const m = /<meta name="csrf-token" content="([^"]+)">/.exec(page);
  if (!m) throw new Error('no csrf token in the page');
  return m[1]!;
}

/** Fetches JSON typed as the board's own view types. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  return (await fetch(url, init)).json() as Promise<T>;
}

/** An error answer. */
export interface ErrorBody {
  error: string;
}

/** What {@link seedLifecycle} wrote: one custom_id per Bull Board state, and the batch in flight. */
export interface Lifecycle {
  store: Store;
  queues: Queue[];
  /** queued and ready */
  waiting: string[];
  /** queued in retry backoff, ready at `readyAt` */
  delayed: string;
  readyAt: number;
  /** claimed into the batch in flight */
  active: string[];
  inflightBatch: string;
  succeeded: string;
  dead: string;
  deadJobId: string;
  resultText: string;
}

/**
 * Requests in every state of their life, written through the store's own transitions (no batcher
 * or collector): 3 queued, 2 in the batch `msgbatch_inflight01`, and of the collected batch
 * `msgbatch_done01` one succeeded (its `{results}` job delivers it), one dead (its dead letter
 * waits) and one requeued into retry backoff for 30 minutes.
 */
export async function seedLifecycle(redis: RedisClient, prefix: string, now: number): Promise<Lifecycle> {
  const store = new Store(redis, prefix);
  const enq = now - 20 * MIN;
  const meta = JSON.stringify({ ticket: 'T-1042', tenant: 'acme' });
  const acme = (c: string, group: string) =>
    item(c, { meta, deadline: now + 2 * 24 * 60 * MIN, partition: 'acme', group });
  await store.records.enqueue(
    [
      ...['r-wait-1', 'r-wait-2', 'r-wait-3'].map((c) => acme(c, 'g-acme')),
      ...['r-back-1', 'r-ok-1', 'r-dead-1'].map((c) => acme(c, 'g-done')),
    ],
    { now: enq },
  );
  await store.records.enqueue(
    ['r-fly-1', 'r-fly-2'].map((c) => item(c, { feature: 'weekly-digest', group: 'g-fly' })),
    { now: enq },
  );
  const commit = async (sub: string, group: string, ids: string[], batchId: string, at: number) => {
    await store.submissions.open({
      id: sub,
      partition: 'acme',
      reason: 'size',
      owner: 'test',
      leaseMs: MIN,
      now: at,
    });
    await store.submissions.claim(group, sub, ids.length, 1e9, at);
    await store.submissions.commit(
      sub,
      {
        id: batchId,
        created_at: new Date(at).toISOString(),
        expires_at: new Date(at + 24 * 60 * MIN).toISOString(),
        processing_status: 'in_progress',
      },
      { count: ids.length, bytes: ids.length * 120, partition: 'acme', reason: 'size' },
      at,
    );
  };
  await commit('s-done', 'g-done', ['r-back-1', 'r-ok-1', 'r-dead-1'], 'msgbatch_done01', now - 15 * MIN);
  await commit('s-fly', 'g-fly', ['r-fly-1', 'r-fly-2'], 'msgbatch_inflight01', now - 12 * MIN);
  const resultText = 'label: invoice (confidence 0.93)';
  const msg = message('claude-haiku-4-5', 1000, 200);
  (msg.content[0] as { text: string }).text = resultText;
  const { item: success, payload } = buildSuccess({
    customId: 'r-ok-1',
    feature: 'classify-docs',
    metadata: JSON.parse(meta),
    model: 'claude-haiku-4-5',
    message: msg,
    mode: 'batch',
    batchId: 'msgbatch_done01',
    attempt: 1,
    prices: DEFAULT_PRICES,
    now: now - 5 * MIN,
  });
  const delivery = 'res-msgbatch_done01-0123456789abcdef01234567';
  const at = now - 5 * MIN;
  const error = { type: 'invalid_request_error', message: 'messages.0.content: must not be empty' };
  const readyAt = now + 30 * MIN;
  await store.outcomes.apply(
    [
      { ...success, delivery },
      {
        cid: 'r-dead-1',
        action: 'dead',
        guardSub: 's-done',
        reason: 'invalid_request',
        error,
        entry: {
          attempt: 1,
          batchId: 'msgbatch_done01',
          outcome: 'errored',
          errorType: error.type,
          message: error.message,
          at,
        },
      },
      {
        cid: 'r-back-1',
        action: 'requeue',
        guardSub: 's-done',
        readyAt,
        error: { type: 'overloaded_error', message: 'Overloaded' },
        entry: {
          attempt: 1,
          batchId: 'msgbatch_done01',
          outcome: 'errored',
          errorType: 'overloaded_error',
          at,
        },
        countsAttempt: true,
      },
    ],
    at,
  );
  await store.batches.markCollected('msgbatch_done01', { succeeded: 1, errored: 2 }, at);
  const results = openQueue('results', redis, prefix);
  await deliverResults(results, [{ id: delivery, results: [payload] }]);
  const deadLetters = openQueue('deadLetters', redis, prefix);
  await addDeadLetters(deadLetters, [
    {
      payload: {
        customId: 'r-dead-1',
        feature: 'classify-docs',
        model: 'claude-haiku-4-5',
        reason: 'invalid_request',
        lastError: error,
        attempts: [{ attempt: 1, batchId: 'msgbatch_done01', outcome: 'errored', errorType: error.type, at }],
        batchId: 'msgbatch_done01',
        params: JSON.parse(item('r-dead-1').params),
        metadata: JSON.parse(meta),
        deadAt: at,
      },
      deaths: 1,
    },
  ]);
  // The tracking job Bull Board shows for the batch in flight (the overview links to it).
  const batches = openQueue('batches', redis, prefix);
  await batches.add(
    'track',
    { batchId: 'msgbatch_inflight01', submissionId: 's-fly', requestCount: 2, submittedAt: now - 12 * MIN },
    { jobId: jobIds.batch('msgbatch_inflight01'), delay: 60_000 },
  );
  await upsertSchedulers(redis, prefix);
  return {
    store,
    queues: [results, deadLetters, batches],
    waiting: ['r-wait-1', 'r-wait-2', 'r-wait-3'],
    delayed: 'r-back-1',
    readyAt,
    active: ['r-fly-1', 'r-fly-2'],
    inflightBatch: 'msgbatch_inflight01',
    succeeded: 'r-ok-1',
    dead: 'r-dead-1',
    deadJobId: jobIds.deadLetter('r-dead-1', 1),
    resultText,
  };
}
