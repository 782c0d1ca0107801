/**
 * Public types of the emulator. Everything here is re-exported from `index.ts`.
 */

/**
 * How submitted batches get processed.
 * - `'instant'` (default): create answers `in_progress`; the batch ends on the first retrieve or list that
 *   sees it (as if processing took no time).
 * - `{ delayMs }`: requests are processed one after another, spread linearly over `delayMs` of *emulator*
 *   time after creation; the batch ends at `created_at + delayMs` (or expires first when that is > 24 h).
 * - `'manual'`: nothing is processed until `control.process()` / `control.complete()`.
 *
 * The mode is captured per batch at creation time; `control.setProcessing()` affects later batches only.
 */
export type ProcessingMode = 'instant' | 'manual' | { delayMs: number };

/** What a responder gets: the batch request's custom_id (absent for `POST /v1/messages`) and its params as sent. */
export interface ResponderRequest {
  customId?: string;
  // biome-ignore lint/suspicious/noExplicitAny: arbitrary JSON as sent by the client
  params: any;
}

/** Options for {@link startEmulator}. */
export interface EmulatorOptions {
  /** TCP port; default 0 (a free port). */
  port?: number;
  /** Listen address; default `'127.0.0.1'`. */
  host?: string;
  /** If set, only this key is accepted (401 otherwise). Default: any non-empty key, via `x-api-key` or `Authorization: Bearer`. */
  apiKey?: string;
  /** Body limit of a batch create request (413 `request_too_large` above it); default 256 MiB. */
  maxBodyBytes?: number;
  /** Processing mode for new batches; default `'instant'`. */
  processing?: ProcessingMode;
  /** Base clock in ms (default `Date.now`); the emulator's clock is `now() + offset` (see {@link EmulatorClock}). */
  now?: () => number;
  /** Minimum cacheable prefix length in tokens; default 1024. */
  minCacheableTokens?: number;
  /** Produces the text of a succeeded message; default is the deterministic responder (see README). */
  respond?: (req: ResponderRequest) => string;
  /** Keep the params of every request for `inspect.requests()`; default true. */
  recordRequests?: boolean;
  /** Suppress the emulator's own diagnostics on stderr (internal errors). */
  quiet?: boolean;
  /**
   * The workspace's `default_inference_geo`, reported in `usage.inference_geo` of models that take it
   * (Claude 4.6 and later) when a request gives none. Default: none (`null`).
   */
  inferenceGeo?: 'global' | 'us';
  /**
   * The workspace's cap on batch requests in the processing queue (by rate-limit tier: 100,000 at
   * tier 1). A create that would take the queue past it answers 429 `rate_limit_error`. A request
   * counts while its batch has not ended and the model has not processed it yet. Default: no cap.
   */
  processingQueue?: ProcessingQueueCap;
}

/** A processing-queue cap (see {@link EmulatorOptions.processingQueue}). */
export interface ProcessingQueueCap {
  /** Most requests waiting in the processing queue at once. */
  maxRequests: number;
  /** `retry-after` (seconds) of the 429 a create past the cap gets. Default 60. */
  retryAfterSec?: number;
}

/** Requests in the processing queue now (see {@link EmulatorInspect.inFlight}). */
export interface InFlight {
  /** Requests of batches not ended that the model has not processed yet: what the cap counts. */
  requests: number;
  /** Batches not ended (in progress or canceling). */
  batches: number;
}

/** The emulator's clock (ms since the epoch). Tests jump it forward to trigger expiry (24 h) or archival (29 days). */
export interface EmulatorClock {
  /** Current emulator time in ms. */
  now(): number;
  /** Move the clock forward (or back, if negative) by `ms`; returns the new time. */
  advance(ms: number): number;
  /** Set the clock to `ms`; it keeps running with the base clock from there. */
  set(ms: number): void;
}

/** A processing outcome forced onto matching batch requests (applied when the request is processed). */
export interface OutcomeRule {
  /** Which custom_ids the rule applies to; default all. */
  match?: RegExp | ((customId: string) => boolean);
  /**
   * Fraction 0..1 of matching requests affected, chosen deterministically by a hash of the custom_id and how
   * many times this rule has already seen that custom_id (so a resubmitted request gets a fresh draw).
   * Default 1.
   */
  rate?: number;
  /** The forced outcome. */
  outcome: 'errored' | 'expired' | 'canceled';
  /** For `errored`: error type, e.g. `api_error` (default), `overloaded_error`, `invalid_request_error`, `rate_limit_error`, `billing_error`. */
  errorType?: string;
  /** For `errored`: error message. */
  message?: string;
  /**
   * For `errored`: `error.details.error_code` of the line (e.g. `organization_on_hold` with
   * `invalid_request_error`), as the API sends with a coded refusal. Default: none.
   */
  errorCode?: string;
  /** How many requests this rule applies to in total; default unlimited. */
  times?: number;
}

/** The HTTP endpoints a fault can target. */
export type FaultEndpoint = 'create' | 'retrieve' | 'list' | 'cancel' | 'delete' | 'results' | 'messages';

/** An HTTP-level fault. Faults are checked in insertion order; the first applicable one fires. */
export type Fault =
  | {
      endpoint: FaultEndpoint;
      /** Answer with an error status instead of doing the work. */
      kind: 'status';
      status: 400 | 401 | 402 | 403 | 404 | 408 | 409 | 412 | 413 | 422 | 429 | 500 | 502 | 503 | 504 | 529;
      /** Sends `retry-after: <sec>` (fractions allowed; the SDK parses a float). 429 defaults to 1. */
      retryAfterSec?: number;
      /** Sends `x-should-retry: true|false`, which the SDK obeys over its status rules. */
      shouldRetry?: boolean;
      /** `error.type`; default from the status (400 invalid_request_error, 429 rate_limit_error, 529 overloaded_error, …). */
      errorType?: string;
      /**
       * `error.details.error_code`, which SDK 1.x reads into `err.errorCode` and, for a pair it
       * declares, turns into its class (429 + `enforced_spend_limit_reached` is an
       * `EnforcedSpendLimitReachedError`, 400 + `organization_on_hold` an `OrganizationOnHoldError`).
       * Any endpoint; default: none.
       */
      errorCode?: string;
      message?: string;
      /** Default 1. */
      times?: number;
    }
  | {
      endpoint: 'results';
      /** Destroy the socket after `afterLines` result lines (the terminating chunk is never sent). */
      kind: 'drop-stream';
      afterLines: number;
      /** Default 1. */
      times?: number;
    }
  | {
      endpoint: 'retrieve' | 'results';
      /** Answer 404 `not_found_error` for any batch younger than `forMs` (emulator time): the propagation-delay pitfall. */
      kind: 'not-found-after-create';
      forMs: number;
    }
  | {
      endpoint: 'create';
      /** Wait `ms` of real time before answering (the batch is still created, even if the client gave up). */
      kind: 'delay';
      ms: number;
      /** Default 1. */
      times?: number;
    }
  | {
      endpoint: 'create';
      /** Create the batch, then answer 5xx: the duplicate-batch hazard of retried creates. */
      kind: 'create-then-fail';
      status: 500 | 529;
      /** Default 1. */
      times?: number;
    };

/** Returned by `injectFault` / `injectOutcome`. */
export interface InjectionHandle {
  /** Unique id of the fault or rule. */
  readonly id: string;
  /** How many times it has fired so far. */
  hits(): number;
  /** Remove it (no effect on what already happened). */
  remove(): void;
}

/** Counts of a MessageBatch, as the API reports them. */
export interface MessageBatchRequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A MessageBatch exactly as the API returns it. */
export interface MessageBatchObject {
  id: string;
  type: 'message_batch';
  processing_status: 'in_progress' | 'canceling' | 'ended';
  request_counts: MessageBatchRequestCounts;
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

/** A MessageBatch as seen by `inspect` (includes deleted batches). */
export interface InspectedBatch extends MessageBatchObject {
  deleted: boolean;
}

/** One request of a batch as seen by `inspect.requests()`. */
export interface InspectedRequest {
  custom_id: string;
  /** The request's params; `undefined` when `recordRequests` is false. */
  // biome-ignore lint/suspicious/noExplicitAny: arbitrary JSON as sent by the client
  params: any;
  outcome: 'pending' | 'succeeded' | 'errored' | 'canceled' | 'expired';
}

/** One HTTP exchange recorded by the emulator (the last 2,000 are kept). */
export interface HttpLogEntry {
  /** Real time (ms) the request arrived. */
  at: number;
  method: string;
  path: string;
  endpoint: FaultEndpoint | 'other';
  status: number;
  /** `x-stainless-retry-count` sent by the SDK (0 on the first attempt), or null. */
  retryCount: number | null;
  requestId: string;
  /** A fault that answered this request, if any. */
  fault: string | null;
}

/** Counters since start. */
export interface EmulatorStats {
  httpRequests: number;
  calls: Record<FaultEndpoint | 'other', number>;
  createCalls: number;
  batchesCreated: number;
  requestsSeen: number;
  requestsProcessed: number;
  outcomes: { succeeded: number; errored: number; canceled: number; expired: number };
  /** Result streams started and result lines written. */
  resultStreams: number;
  resultsServed: number;
  faultsTriggered: number;
  /** Token totals of succeeded batch requests. */
  batchTokens: { input: number; output: number; cacheCreation: number; cacheRead: number };
  /** Real-time `POST /v1/messages` answers (200) and their tokens. */
  messagesServed: number;
  messageTokens: { input: number; output: number; cacheCreation: number; cacheRead: number };
  /**
   * The processing queue: the most requests it ever held (measured right after each create, the
   * only moment it grows) and the creates refused with 429 because they would pass the cap.
   */
  processingQueue: { peakRequests: number; refusals: number };
}

/** Test controls. Methods taking a batch id throw if it is unknown. */
export interface EmulatorControl {
  /** Processing mode for batches created from now on. */
  setProcessing(mode: ProcessingMode): void;
  /** Process the next `count` (default: all remaining) requests of an in-progress batch; it ends when none remain. */
  process(batchId: string, count?: number): InspectedBatch;
  /** End one (or every) in-progress/canceling batch now: remaining requests are processed (or `canceled` when canceling). */
  complete(batchId?: string): InspectedBatch[];
  /** Force outcomes onto matching requests processed from now on. */
  injectOutcome(rule: OutcomeRule): InjectionHandle;
  /** Add an HTTP fault. */
  injectFault(fault: Fault): InjectionHandle;
  /** Remove all faults. */
  clearFaults(): void;
  /** Remove all outcome rules. */
  clearOutcomes(): void;
  /** Cancel a batch as an operator would (e.g. in the Console): it becomes `canceling` without a client call. */
  cancelAsOperator(batchId: string): InspectedBatch;
  /** Sets (or with null removes) the processing-queue cap for creates from now on. */
  setProcessingQueue(cap: ProcessingQueueCap | null): void;
}

/** Read-only views for assertions. They apply time-based transitions (delay processing, expiry, archival) but never the access-triggered ones. */
export interface EmulatorInspect {
  /** All batches in creation order, including deleted ones. */
  batches(): InspectedBatch[];
  /** One batch (also when deleted), or undefined. */
  batch(id: string): InspectedBatch | undefined;
  /** The requests of a batch in submission order. */
  requests(batchId: string): InspectedRequest[];
  /** Requests and batches in the processing queue now (time-based transitions applied). */
  inFlight(): InFlight;
  /** Number of `POST /v1/messages/batches` attempts, including failed and faulted ones. */
  createCalls(): number;
  /** Counters. */
  stats(): EmulatorStats;
  /** The most recent HTTP exchanges, oldest first. */
  httpLog(): HttpLogEntry[];
}

/** A running emulator. */
export interface Emulator {
  /** Base URL for the SDK (`baseURL` / `ANTHROPIC_BASE_URL`), e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** Stop listening and drop all connections. */
  close(): Promise<void>;
  clock: EmulatorClock;
  control: EmulatorControl;
  inspect: EmulatorInspect;
}
