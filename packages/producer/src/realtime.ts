import Anthropic from '@anthropic-ai/sdk';
import type {
  AttemptRecord,
  DeadLetterPayload,
  Logger,
  MessageParams,
  PriceTable,
  RequestState,
} from '@nightshift/shared';
import { addDeadLetters, buildSuccess, deliverResults, type Store } from '@nightshift/store';
import type { Queue } from 'bullmq';
import { Limiter } from './limiter.js';
import type { PreparedRequest } from './validate.js';

/**
 * An answer that says the request itself is wrong (400/401/403/404/413/422): calling again cannot help.
 * Everything else (408/409/429, 402, 5xx, connection errors) may pass later. Same rule as the collector.
 */
function isDefinitive(err: unknown): boolean {
  if (!(err instanceof Anthropic.APIError) || err instanceof Anthropic.APIConnectionError) return false;
  return [400, 401, 403, 404, 413, 422].includes(err.status ?? 0);
}

/** The error as `{ type, message }` (the API's own type when there is one), as the collector records it. */
function describeError(err: unknown): { type: string; message: string } {
  if (err instanceof Anthropic.APIError) {
    const body = err.error as { error?: { type?: string; message?: string } } | undefined;
    return {
      type: body?.error?.type ?? err.type ?? (err.status ? `http_${err.status}` : 'connection_error'),
      message: body?.error?.message ?? err.message,
    };
  }
  return { type: 'client_error', message: err instanceof Error ? err.message : String(err) };
}

/** What the real-time path needs; queues and client are made on first use. */
export interface RealtimeDeps {
  store: Store;
  client: () => Anthropic;
  results: () => Queue;
  deadLetters: () => Queue;
  prices: PriceTable;
  now: () => number;
  logger: Logger;
  concurrency: number;
}

/**
 * The real-time path: requests whose deadline the batch path cannot meet, sent through the Messages API
 * at once. The record is already written in state `realtime`; the result goes out through `{results}`
 * exactly like a batch result (priced at list price), or an API error ends in a dead letter.
 */
export class RealtimePath {
  private readonly limiter: Limiter;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: RealtimeDeps) {
    this.limiter = new Limiter(deps.concurrency);
  }

  /** Calls the API for each item (bounded concurrency); resolves to each request's final state. */
  async run(items: PreparedRequest[]): Promise<Map<string, RequestState>> {
    const states = new Map<string, RequestState>();
    const settled = await Promise.allSettled(
      items.map((it) => this.track(this.limiter.run(() => this.one(it))).then((s) => states.set(it.cid, s))),
    );
    // API errors never reject (they are dead letters); a rejection is Redis failing us mid-way.
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return states;
  }

  /** Waits for every real-time call in progress (for close). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private async one(it: PreparedRequest): Promise<RequestState> {
    const { store, prices, now, logger } = this.deps;
    const params = JSON.parse(it.params) as MessageParams;
    const metadata = it.meta ? JSON.parse(it.meta) : null;
    let message: Anthropic.Messages.Message;
    try {
      message = await this.deps.client().messages.create(params);
    } catch (err) {
      if (isDefinitive(err)) {
        await this.dead(it, params, metadata, err);
        return 'dead';
      }
      // 429 / 5xx / connection trouble after the SDK's own retries: the request stays `realtime` and the
      // collector's sweep calls it again once it is stale (the same policy the collector applies).
      logger.warn(
        { customId: it.cid, err: describeError(err) },
        'real-time call failed; the collector retries it',
      );
      return 'realtime';
    }
    const { item, payload } = buildSuccess({
      customId: it.cid,
      feature: it.feature,
      metadata,
      model: it.model,
      message,
      mode: 'realtime',
      batchId: null,
      attempt: 1,
      prices,
      now: now(),
    });
    // Deliver before apply: a crash in between leaves the request `realtime`, the collector's sweep
    // calls again and adds the same job id; the job waits for the record to name it (see the worker).
    await deliverResults(this.deps.results(), [{ id: item.delivery, results: [payload] }]);
    await store.apply([item], now());
    logger.debug({ customId: it.cid, cost: payload.cost.cost }, 'real-time request succeeded');
    return 'succeeded';
  }

  private async dead(it: PreparedRequest, params: MessageParams, metadata: unknown, err: unknown) {
    const { store, now, logger } = this.deps;
    const at = now();
    const lastError = describeError(err);
    const type = lastError.type;
    const entry: AttemptRecord = {
      attempt: 1,
      batchId: null,
      outcome: 'errored',
      errorType: type,
      message: lastError.message,
      at,
    };
    const reason = type;
    const [rec] = await store.peek([it.cid], ['deaths']);
    const payload: DeadLetterPayload = {
      customId: it.cid,
      feature: it.feature,
      model: it.model,
      reason,
      lastError,
      attempts: [entry],
      batchId: null,
      params,
      metadata,
      deadAt: at,
    };
    await addDeadLetters(this.deps.deadLetters(), [{ payload, deaths: Number(rec?.deaths || 0) + 1 }]);
    await store.apply(
      [{ cid: it.cid, action: 'dead', guardSub: 'realtime', reason, error: lastError, entry }],
      at,
    );
    logger.warn({ customId: it.cid, errorType: type }, 'real-time request dead-lettered');
  }
}
