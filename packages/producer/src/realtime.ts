import type Anthropic from '@anthropic-ai/sdk';
import {
  type ApiFailure,
  type AttemptRecord,
  CIRCUIT_DEFAULTS,
  circuitFor,
  classifyApiError,
  describeFailure,
  type Logger,
  type MessageParams,
  type PriceTable,
  type RequestState,
  realtimeAction,
} from '@nightshift/shared';
import {
  addDeadLetters,
  buildSuccess,
  deadLetterPayload,
  deliverResults,
  type ModelAlerts,
  resultsWantedByWebhooks,
  type Store,
} from '@nightshift/store';
import type { Queue } from 'bullmq';
import { Limiter } from './limiter.js';
import type { PreparedRequest } from './validate.js';

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
  modelAlerts: ModelAlerts;
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
      const failure = classifyApiError(err);
      const action = realtimeAction(failure);
      if (action === 'dead') {
        await this.dead(it, failure);
        return 'dead';
      }
      // An account or billing refusal stops submissions too (with the default cooldown: the batcher's
      // probe applies its own). Either way the request stays `realtime` and the collector's sweep
      // calls it again once it is stale and the circuit is closed (the policy the collector applies).
      if (action === 'stop-submissions') {
        await store.circuit.open({ ...circuitFor(failure), ...CIRCUIT_DEFAULTS }, now());
      }
      logger.warn(
        { customId: it.cid, err: describeFailure(failure) },
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
    await deliverResults(this.deps.results(), [{ id: item.delivery, results: [payload] }], {
      keepCompleted: await resultsWantedByWebhooks(store),
    });
    await store.outcomes.apply([item], now());
    if (payload.cost.unpriced && (await this.deps.modelAlerts.unpriced(payload.model))) {
      logger.warn({ model: payload.model }, 'result of a model without a price: counted at $0');
    }
    logger.debug({ customId: it.cid, cost: payload.cost.cost }, 'real-time request succeeded');
    return 'succeeded';
  }

  private async dead(it: PreparedRequest, failure: ApiFailure) {
    const { store, now, logger } = this.deps;
    const at = now();
    const lastError = describeFailure(failure);
    const type = lastError.type;
    const entry: AttemptRecord = {
      attempt: 1,
      batchId: null,
      outcome: 'errored',
      errorType: type,
      ...(lastError.code ? { errorCode: lastError.code } : {}),
      message: lastError.message,
      at,
    };
    const reason = type;
    const [rec] = await store.records.peek([it.cid], ['deaths']);
    const payload = deadLetterPayload(
      {
        customId: it.cid,
        feature: it.feature,
        model: it.model,
        params: it.params,
        metadata: it.meta,
        history: null,
      },
      { reason, lastError, entry, batchId: null, deadAt: at },
    );
    await addDeadLetters(this.deps.deadLetters(), [{ payload, deaths: Number(rec?.deaths || 0) + 1 }]);
    await store.outcomes.apply(
      [{ cid: it.cid, action: 'dead', guardSub: 'realtime', reason, error: lastError, entry }],
      at,
    );
    logger.warn({ customId: it.cid, errorType: type }, 'real-time request dead-lettered');
  }
}
