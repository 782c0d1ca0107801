import Anthropic from '@anthropic-ai/sdk';
import { type Emulator, type EmulatorOptions, startEmulator } from '@nightshift/emulator';
import {
  estimateCost,
  jobIds,
  type Logger,
  type MessageParams,
  type ResultJobData,
  type ResultPayload,
  toNano,
} from '@nightshift/shared';
import { type EnqueueItem, openQueue, type RedisClient, Store } from '@nightshift/store';
import { silentLogger, uniquePrefix } from '@nightshift/testing';
import type { Queue } from 'bullmq';
import { expect } from 'vitest';
import { type Collector, type CollectorOptions, startCollector } from '../src/index.js';

let counter = 0;

/** A logger that keeps the objects logged at info (usage lines) and drops the rest. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const noop = () => undefined;
  const logger = {
    level: 'info',
    info: (obj: unknown) => {
      if (obj && typeof obj === 'object') lines.push(obj as Record<string, unknown>);
    },
    warn: noop,
    error: noop,
    debug: noop,
    trace: noop,
    fatal: noop,
    child() {
      return logger;
    },
  };
  return { logger: logger as unknown as Logger, lines };
}

export function defaultParams(cid: string, model = 'claude-haiku-4-5'): MessageParams {
  return { model, max_tokens: 16, messages: [{ role: 'user', content: `Say something about ${cid}` }] };
}

export interface SeedOptions {
  cids: string[];
  feature?: string;
  model?: string;
  params?: (cid: string) => MessageParams;
  /** Custom ids to send to the API instead of `cids` (e.g. fewer, for missing results). */
  apiCids?: string[];
  deadline?: (cid: string) => number | null;
  realtime?: (cid: string) => boolean;
  meta?: (cid: string) => unknown;
  subId?: string;
  /** Skip commit + tracking job (orphans). */
  commit?: boolean;
  /** Commit without adding the tracking job (a crash between commit and job add). */
  track?: boolean;
  now?: number;
}

/** A test world: a store on one prefix, an SDK client at an emulator, queues to look into. */
export class World {
  readonly store: Store;
  readonly client: Anthropic;
  readonly results: Queue;
  readonly deadLetters: Queue;
  readonly batches: Queue;
  private readonly collectors: Collector[] = [];

  constructor(
    readonly redis: RedisClient,
    readonly emu: Emulator,
    readonly prefix = uniquePrefix(),
  ) {
    this.store = new Store(redis, prefix);
    this.client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 0 });
    this.results = openQueue('results', redis, prefix);
    this.deadLetters = openQueue('deadLetters', redis, prefix);
    this.batches = openQueue('batches', redis, prefix);
  }

  /** Enqueues, claims into one submission, creates the batch at the emulator, commits, adds the tracking job. */
  async seed(o: SeedOptions) {
    const feature = o.feature ?? 'classify';
    const model = o.model ?? 'claude-haiku-4-5';
    const paramsOf = o.params ?? ((cid: string) => defaultParams(cid, model));
    const group = `g-${o.subId ?? 's1'}-${counter++}`;
    const items: EnqueueItem[] = o.cids.map((cid) => {
      const params = JSON.stringify(paramsOf(cid));
      return {
        cid,
        feature,
        model: (JSON.parse(params) as MessageParams).model,
        params,
        phash: `h-${cid}`,
        meta: o.meta ? JSON.stringify(o.meta(cid)) : '',
        deadline: o.deadline?.(cid) ?? null,
        partition: 'default',
        group,
        bytes: params.length + cid.length + 30,
        realtimeAllowed: o.realtime?.(cid) ?? false,
        state: 'queued',
        // What the producer writes: the estimate a budget reserves at the claim.
        est: toNano(
          estimateCost(JSON.parse(params) as MessageParams, params, params.length + cid.length + 30),
        ),
      };
    });
    const now = o.now ?? Date.now();
    await this.store.records.enqueue(items, { now });
    const subId = o.subId ?? `s-${counter++}`;
    await this.store.submissions.open({
      id: subId,
      partition: 'default',
      reason: 'manual',
      owner: 'test',
      leaseMs: 60_000,
      now,
    });
    const claimed = await this.store.submissions.claim(group, subId, o.cids.length, 1e12, now);
    const byCid = new Map(items.map((i) => [i.cid, i.params]));
    const batch = await this.client.messages.batches.create({
      requests: (o.apiCids ?? o.cids).map((cid) => ({
        custom_id: cid,
        params: JSON.parse(byCid.get(cid) ?? JSON.stringify(paramsOf(cid))) as MessageParams,
      })),
    });
    if (o.commit !== false) await this.commit(subId, batch, claimed.items.length, now, o.track !== false);
    return { batch, subId };
  }

  /** {@link seed} of `n` requests whose custom_ids are `${tag}0` … `${tag}${n - 1}`. */
  async seedMany(n: number, tag: string, o: Omit<SeedOptions, 'cids'> = {}) {
    const cids = Array.from({ length: n }, (_, i) => `${tag}${i}`);
    return { ...(await this.seed({ ...o, cids })), cids };
  }

  /**
   * Waits until `batchId` is collected, then asserts that each of its `n` requests succeeded and
   * its result was delivered, once ({@link delivered} throws on a second delivery).
   */
  async expectAllSucceeded(batchId: string, n: number, timeoutMs?: number): Promise<void> {
    expect((await this.waitCollected(batchId, timeoutMs)).state).toBe('collected');
    expect((await this.delivered()).length).toBe(n);
    expect((await this.store.stats.all()).succeeded).toBe(n);
  }

  /** Claims queued requests again into a new submission and batch (the next flush of a retry). */
  async resubmit(cids: string[], now: number) {
    const subId = `s-${counter++}`;
    await this.store.submissions.open({
      id: subId,
      partition: 'default',
      reason: 'retry',
      owner: 'test',
      leaseMs: 60_000,
      now,
    });
    const groups = new Set((await this.store.records.peek(cids, ['group'])).map((r) => r!.group));
    const claimed: [string, string][] = [];
    for (const g of groups)
      claimed.push(...(await this.store.submissions.claim(g, subId, cids.length, 1e12, now)).items);
    const batch = await this.client.messages.batches.create({
      requests: claimed.map(([cid, params]) => ({
        custom_id: cid,
        params: JSON.parse(params) as MessageParams,
      })),
    });
    await this.commit(subId, batch, claimed.length, now);
    return { batch, subId, claimed: claimed.map(([c]) => c) };
  }

  /** Commits a batch to a submission (as the batcher does) and adds its tracking job. */
  async commit(
    subId: string,
    batch: Anthropic.Messages.MessageBatch,
    count: number,
    now = Date.now(),
    track = true,
  ): Promise<string> {
    const code = await this.store.submissions.commit(
      subId,
      batch,
      { count, bytes: 0, partition: 'default', reason: 'manual' },
      now,
    );
    if (!track) return code;
    await this.batches.add(
      'batch',
      {
        batchId: batch.id,
        submissionId: subId,
        requestCount: count,
        bytes: 0,
        partition: 'default',
        reason: 'manual',
        submittedAt: now,
      },
      { jobId: jobIds.batch(batch.id) },
    );
    return code;
  }

  /** Starts a collector on this world with fast test timings. */
  async collector(over: Partial<CollectorOptions> = {}): Promise<Collector> {
    const c = await startCollector({
      connection: this.redis,
      prefix: this.prefix,
      client: this.client,
      pollMs: 100,
      maxPollMs: 200,
      transientRetryMs: 50,
      lockDurationMs: 5_000,
      orphanMinAgeMs: 0,
      logger: silentLogger,
      ...over,
    });
    c.on('error', () => undefined);
    this.collectors.push(c);
    return c;
  }

  async waitCollected(batchId: string, timeoutMs = 20_000) {
    const { waitFor } = await import('@nightshift/testing');
    return waitFor(
      async () => {
        const b = await this.store.batches.get(batchId);
        return b && (b.state === 'collected' || b.state === 'lost') ? b : null;
      },
      { timeoutMs, what: `batch ${batchId} collected` },
    );
  }

  /** Result jobs in {results} (no consumer runs in these tests, so they stay waiting). */
  async resultJobs() {
    return this.results.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'], 0, -1);
  }

  /**
   * What the service receives: each result of a `{results}` job whose record names that job (the
   * result worker's rule). Throws when a result would be delivered twice.
   */
  async delivered(): Promise<(ResultPayload & { jobId: string })[]> {
    const all = (await this.resultJobs()).flatMap((j) =>
      (j.data as ResultJobData).results.map((r) => ({ ...r, jobId: j.id ?? '' })),
    );
    const recs = await this.store.records.peekMany(
      all.map((r) => r.customId),
      ['state', 'delivery'],
    );
    const out = all.filter((r, i) => recs[i]?.delivery === r.jobId);
    const twice = out.filter((r, i) => out.findIndex((o) => o.customId === r.customId) !== i);
    if (twice.length) throw new Error(`delivered twice: ${twice.map((r) => r.customId).join(', ')}`);
    return out;
  }

  async deadJobs() {
    return this.deadLetters.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'], 0, -1);
  }

  async close() {
    await Promise.all(this.collectors.map((c) => c.close()));
    await Promise.all([this.results.close(), this.deadLetters.close(), this.batches.close()]);
  }
}

export async function emulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ quiet: true, ...opts });
}

/** Runs `fn` with a fresh emulator and a world on `redis`, closing both afterwards. */
export async function withWorld(
  redis: RedisClient,
  fn: (w: World) => Promise<void>,
  emuOpts: EmulatorOptions = {},
): Promise<void> {
  const emu = await emulator(emuOpts);
  const w = new World(redis, emu);
  try {
    await fn(w);
  } finally {
    await w.close();
    await emu.close();
  }
}
