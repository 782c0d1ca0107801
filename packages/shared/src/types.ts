/**
 * Terminology (used the same way in code, Redis keys, metrics and docs):
 *
 * - request     one Messages API call a service wants done: `params` + `feature` + `custom_id`.
 * - custom_id   the request's id, derived from the source (e.g. a document id), 1–64 of [A-Za-z0-9_-].
 * - feature     a tag for cost accounting ("classify-docs", "weekly-digest").
 * - group       requests that share partition and prompt-cache prefix; kept in one batch.
 * - flush       one run of the batcher: decide, claim, submit.
 * - submission  the claimed requests on their way into one batch (durable before `batches.create`).
 * - batch       a Message Batch at the API (`msgbatch_…`), tracked by one job in `{batches}`.
 * - result      one line of a batch's results (succeeded / errored / canceled / expired).
 * - apply       turning a result into its one effect: delivered, requeued or dead-lettered.
 * - requeue     a request back to `queued` with attempt + 1 after a retryable outcome.
 * - dead letter a request's final failure, with its reason and attempt history.
 */
import type Anthropic from '@anthropic-ai/sdk';

export type MessageParams = Anthropic.Messages.MessageCreateParamsNonStreaming;
export type Message = Anthropic.Messages.Message;
export type Usage = Anthropic.Messages.Usage;

/**
 * Where a request is. `claimed` covers both "being submitted" and "in batch X": the submission
 * it belongs to says which.
 */
export type RequestState = 'queued' | 'claimed' | 'realtime' | 'succeeded' | 'dead' | 'canceled';

/**
 * A request record as the store hands it out: every field a string, as kept in Redis. The record
 * hash `rec:<custom_id>` keeps these under short names (packages/store/src/record-fields.ts).
 */
export interface RequestRecord {
  customId: string;
  feature: string;
  model: string;
  /**
   * The Messages params as JSON, exactly as they are sent. Kept in its own key (`params:<custom_id>`),
   * not in the record hash; gone once the request succeeded.
   */
  params: string;
  /** sha256 of the canonical params JSON: decides "same request" vs conflict. */
  paramsHash: string;
  /** Caller metadata as JSON ('' when none). */
  metadata: string;
  /** Deadline, ms since epoch ('' when none). */
  deadline: string;
  partition: string;
  group: string;
  /** Serialized size of `{"custom_id":…,"params":…}` in bytes. */
  bytes: string;
  /** 1 on first enqueue, +1 on each requeue. */
  attempt: string;
  state: RequestState;
  /** The submission holding the request while claimed. */
  submission: string;
  /** First enqueue, ms. */
  enqueuedAt: string;
  /** Earliest time the request may be submitted (backoff after a retry), ms. */
  readyAt: string;
  /** Last change, ms. */
  updatedAt: string;
  /** Last error as JSON ('' when none). */
  lastError: string;
  /** JSON array of AttemptRecord. */
  history: string;
  /** '1' when the caller allows the real-time path if a deadline can no longer be met. */
  realtimeAllowed: string;
  /** Times this request was dead-lettered (for dead-letter job ids). */
  deaths: string;
  /** Why it died (set with state `dead`, cleared by a retry; absent on records never dead). */
  reason?: string;
  /** Final outcome time, ms. */
  completedAt: string;
  /** Batch id that delivered the success ('' otherwise). */
  batchId: string;
  /** The `{results}` job that delivers the success: the only job allowed to hand it to the service. */
  delivery: string;
  /** What the success cost, in nano-dollars ('' until it succeeded, and on records of before). */
  costNano: string;
  /** The feature's drain epoch at enqueue (see ARCHITECTURE.md, "Drain marks"); '' before it existed. */
  drainEpoch: string;
  /** Webhook endpoint names the request asked to be notified at, joined by ',' ('' when none). */
  notify: string;
  /** The most it can cost at batch price, nano-dollars: what a budget reserves at the claim ('' before budgets). */
  estimate: string;
  /** Nano-dollars it holds reserved in budgets while claimed ('' when none). */
  reserved: string;
  /** The budget windows it is reserved in, `<budget id>|<window>` joined by ',' ('' when none). */
  budgetWindows: string;
  /**
   * '1' when the success wrote a request.succeeded event (an endpoint subscribed): the webhook
   * role, consuming `{results}`, leaves the record to the dispatcher's fan-out. '' otherwise.
   */
  webhookPending: string;
}

/** One attempt in a request's history. */
export interface AttemptRecord {
  attempt: number;
  batchId: string | null;
  outcome: 'succeeded' | 'errored' | 'expired' | 'canceled' | 'missing' | 'lost' | 'rejected';
  errorType?: string;
  /** The API's `error.details.error_code`, when it gave one. */
  errorCode?: string;
  message?: string;
  at: number;
}

/** Token counts by pricing tier. */
export interface TokenCounts {
  input: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  output: number;
}

/** What a result cost, in US dollars. */
export interface CostBreakdown {
  /** What was paid: batch price (50 % of list) or list price on the real-time path. */
  cost: number;
  /** The same tokens at the real-time (list) price. */
  realtimeEquivalent: number;
  /** realtimeEquivalent − cost. */
  savings: number;
  /** True when the model had no price in the table (cost is then 0 and flagged). */
  unpriced?: boolean;
  /** True when the API ran the request US-only (`usage.inference_geo: "us"`): every tier at 1.1×. */
  usInference?: boolean;
  /** Of `cost`, what US-only inference added (dollars). */
  usPremium?: number;
}

/** One result: what the service receives for one request. */
export interface ResultPayload {
  customId: string;
  feature: string;
  metadata: unknown;
  model: string;
  message: Message;
  usage: TokenCounts;
  cost: CostBreakdown;
  /** null on the real-time path. */
  batchId: string | null;
  attempt: number;
  mode: 'batch' | 'realtime';
  completedAt: number;
}

/**
 * The data of a `{results}` job: one or more results. A job delivers a result only while the
 * request's record names that job as its delivery (`dlv`), so a result is handed to the service
 * once even when two jobs carry it (see ARCHITECTURE.md, "Delivering results").
 */
export interface ResultJobData {
  results: ResultPayload[];
  /** W3C traceparent of the span that applied these results, when traces are on: deliveries link to it. */
  trace?: string;
}

/** The payload of a `{dead-letters}` job. */
export interface DeadLetterPayload {
  customId: string;
  feature: string;
  model: string;
  reason: string;
  /** `code`: the API's `error.details.error_code`, when it gave one. */
  lastError: { type: string; message: string; code?: string } | null;
  attempts: AttemptRecord[];
  batchId: string | null;
  params: MessageParams;
  metadata: unknown;
  deadAt: number;
}

/** The status `getStatus(customId)` answers. */
export type RequestStatus =
  | { customId: string; state: 'unknown' }
  | {
      customId: string;
      state:
        | 'queued'
        | 'retrying'
        | 'submitting'
        | 'in_batch'
        | 'realtime'
        | 'succeeded'
        | 'dead'
        | 'canceled';
      feature: string;
      model: string;
      attempt: number;
      enqueuedAt: number;
      /** For in_batch: the batch id and its processing status. */
      batchId?: string;
      batchStatus?: string;
      /** For retrying: when it may be submitted again. */
      readyAt?: number;
      deadline?: number;
      /** For dead: why. */
      reason?: string;
      lastError?: { type: string; message: string } | null;
      history: AttemptRecord[];
      /** For succeeded, dead and canceled: when it became final. */
      completedAt?: number;
      /** For succeeded: what the result cost, USD (absent on records of before). */
      costUsd?: number;
      /**
       * For succeeded, once its result was delivered: the record was compacted (ARCHITECTURE.md,
       * "What a finished request keeps"). `feature` and `model` then read '', `enqueuedAt` 0, and
       * `history` holds only the success.
       */
      compacted?: true;
    };

/** The payload of a `{batches}` tracking job. */
export interface BatchJobData {
  batchId: string;
  submissionId: string;
  requestCount: number;
  bytes: number;
  partition: string;
  reason: FlushReason;
  submittedAt: number;
  /** W3C traceparent of the span that created the batch, when traces are on: polls link to it. */
  trace?: string;
  /** Consecutive 404s seen for this batch (transient right after create). */
  notFound?: number;
  polls?: number;
  lastStatus?: string;
  counts?: Record<string, number>;
}

export type FlushReason = 'size' | 'bytes' | 'time' | 'deadline' | 'manual' | 'retry';

/** What the batcher stores about a batch (`batch:<id>` hash, strings in Redis). */
export interface BatchFields {
  id: string;
  sub: string;
  /** submitted → ended → applying → collected; or lost. */
  state: 'submitted' | 'ended' | 'applying' | 'collected' | 'lost';
  status: string;
  count: string;
  bytes: string;
  partition: string;
  reason: FlushReason;
  submitted: string;
  created: string;
  expires: string;
  ended: string;
  applied: string;
  counts: string;
  /** 'duplicate' / 'adopted' / '' */
  origin: string;
}

/** A heartbeat of one process. */
export interface Heartbeat {
  role: 'batcher' | 'collector' | 'board' | 'webhooks';
  instance: string;
  pid: number;
  host: string;
  at: number;
  /** Last successful flush (batcher) or poll (collector), ms. */
  lastWork?: number;
}

/** An alert raised by the collector, the batcher or the producer. */
export interface Alert {
  code:
    | 'poll-stale'
    | 'batch-past-expiry'
    | 'results-unapplied'
    | 'archive-approaching'
    /** Raised by versions before the submission circuit named its refusal; still shown. */
    | 'billing'
    | 'circuit-open'
    | 'batch-lost'
    | 'unknown-custom-ids'
    | 'model-deprecated'
    | 'model-unpriced'
    /** A budget's reserved + spent reached its alert fraction (or its limit: requests are held). */
    | 'budget'
    /**
     * `{results}` has old waiting jobs and no worker, or the webhooks role consumes it beside other
     * workers (raised and cleared by the webhooks role, NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS).
     */
    | 'results-unconsumed';
  message: string;
  /** First raised. */
  since: number;
  /** Last raised (alerts raised again and again, like a model's, are cleared once they stop). */
  at?: number;
  batchId?: string;
  /** The model a model alert is about. */
  model?: string;
  /** The budget (`<name>/<period>`) a budget alert is about. */
  budget?: string;
}

/** The submission circuit (hash `circuit`): open while the API refuses the account or billing. */
export type CircuitState =
  | { open: false }
  | {
      open: true;
      /** 'account': a refusal of the organization, workspace, key or call; 'billing': billing or a spend limit. */
      kind: 'account' | 'billing';
      /** The API's error code, or its error type when it gave none. */
      code: string;
      /** What the API answered. */
      reason: string;
      /** What an operator must fix. */
      fix: string;
      since: number;
      /** The next probe: the first flush after it submits one batch; accepted closes the circuit. */
      until: number;
      /** Times it opened in a row (each refused probe counts); a billing circuit's interval doubles with it. */
      opens: number;
    };
