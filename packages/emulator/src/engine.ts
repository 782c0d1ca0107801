import {
  accountTokens,
  analyzePrompt,
  buildMessage,
  inferenceGeoOf,
  type PromptCache,
  type TokenUsage,
  validateParams,
} from './prompt.js';
import type {
  EmulatorStats,
  Fault,
  FaultEndpoint,
  InFlight,
  InjectionHandle,
  InspectedBatch,
  InspectedRequest,
  MessageBatchObject,
  OutcomeRule,
  ProcessingMode,
  ProcessingQueueCap,
  ResponderRequest,
} from './types.js';
import { fnv1a, prng, randomId, rfc3339 } from './util.js';

const SUCCEEDED = 1;
const ERRORED = 2;
const CANCELED = 3;
const EXPIRED = 4;
const OUTCOME_NAMES = ['pending', 'succeeded', 'errored', 'canceled', 'expired'] as const;

const HOUR_US = 3_600_000_000;
/** Batches expire 24 h after creation. */
const EXPIRY_US = 24 * HOUR_US;
/** Results are available for 29 days after creation. */
const RETENTION_US = 29 * 24 * HOUR_US;
const TTL_US = { '5m': 5 * 60_000_000, '1h': HOUR_US } as const;

type Mode = 'instant' | 'manual' | { delayUs: number };

/** Internal state of one batch. Outcomes are kept compactly; succeeded/errored lines are serialized once. */
export interface Batch {
  id: string;
  seq: number;
  createdUs: number;
  expiresUs: number;
  endedUs: number | null;
  cancelUs: number | null;
  archivedUs: number | null;
  status: 'in_progress' | 'canceling' | 'ended';
  mode: Mode;
  /** Instant mode: not yet processed; it will be on the next retrieve/list. */
  pendingInstant: boolean;
  n: number;
  customIds: string[];
  params: unknown[];
  outcome: Uint8Array;
  lines: (string | undefined)[];
  /** Requests are processed in submission order; this is the next one. */
  next: number;
  counts: { succeeded: number; errored: number; canceled: number; expired: number };
  cache: Set<string>;
  deleted: boolean;
}

interface FaultEntry {
  id: string;
  fault: Fault;
  remaining: number;
  hits: number;
}

interface RuleEntry {
  id: string;
  rule: OutcomeRule;
  remaining: number;
  hits: number;
  seen: Map<string, number>;
}

/** Adds an injected fault or outcome rule to its list; the handle counts its hits and takes it out again. */
function inject<E extends { id: string; hits: number }>(list: E[], entry: E): InjectionHandle {
  list.push(entry);
  return {
    id: entry.id,
    hits: () => entry.hits,
    remove: () => {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

/** Result of an operation that can fail with an API error. */
export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; type: string; message: string };

/** Options the engine needs (a resolved subset of EmulatorOptions). */
export interface EngineOptions {
  now: () => number;
  processing: ProcessingMode;
  minCacheableTokens: number;
  respond: (req: ResponderRequest) => string;
  recordRequests: boolean;
  quiet: boolean;
  /** The workspace's default `inference_geo` (null: none reported). */
  inferenceGeo: string | null;
  /** The processing-queue cap (null: none). */
  processingQueue: ProcessingQueueCap | null;
}

function toMode(m: ProcessingMode): Mode {
  if (m === 'instant' || m === 'manual') return m;
  if (m && typeof m === 'object' && typeof m.delayMs === 'number' && m.delayMs >= 0) {
    return { delayUs: Math.round(m.delayMs * 1000) };
  }
  throw new TypeError(`invalid processing mode: ${JSON.stringify(m)}`);
}

const DEFAULT_ERROR_MESSAGES: Record<string, string> = {
  invalid_request_error: 'Invalid request.',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'The requested resource could not be found.',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'Number of requests has exceeded your rate limit.',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out.',
  overloaded_error: 'Overloaded',
  conflict_error: 'Conflict.',
};

/** A plausible default message for an error type. */
export function defaultErrorMessage(type: string): string {
  return DEFAULT_ERROR_MESSAGES[type] ?? 'An error occurred.';
}

function zeroTokens() {
  return { input: 0, output: 0, cacheCreation: 0, cacheRead: 0 };
}

function addTokens(t: EmulatorStats['batchTokens'], u: TokenUsage, output: number): void {
  t.input += u.input;
  t.output += output;
  t.cacheCreation += u.cacheCreation5m + u.cacheCreation1h;
  t.cacheRead += u.cacheRead;
}

/** The batch store and state machine. Time-based transitions are applied lazily whenever a batch is looked at. */
export class Engine {
  private offsetMs = 0;
  private readonly batchList: Batch[] = [];
  private readonly byId = new Map<string, Batch>();
  private mode: Mode;
  private readonly faults: FaultEntry[] = [];
  private readonly rules: RuleEntry[] = [];
  private nextInjectionId = 1;
  private lastCreatedUs = 0;
  private readonly realtimeCache = new Map<string, number>();
  /** Batches not ended yet: the processing queue is counted over these only. */
  private readonly unended = new Set<Batch>();
  private queueCap: ProcessingQueueCap | null;
  /** Base URL used in `results_url` when the server cannot tell better (set by the server once listening). */
  baseUrl = 'http://127.0.0.1';
  readonly stats: EmulatorStats;

  constructor(private readonly opts: EngineOptions) {
    this.mode = toMode(opts.processing);
    this.queueCap = checkQueueCap(opts.processingQueue);
    this.stats = {
      httpRequests: 0,
      calls: { create: 0, retrieve: 0, list: 0, cancel: 0, delete: 0, results: 0, messages: 0, other: 0 },
      createCalls: 0,
      batchesCreated: 0,
      requestsSeen: 0,
      requestsProcessed: 0,
      outcomes: { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      resultStreams: 0,
      resultsServed: 0,
      faultsTriggered: 0,
      batchTokens: zeroTokens(),
      messagesServed: 0,
      messageTokens: zeroTokens(),
      processingQueue: { peakRequests: 0, refusals: 0 },
    };
  }

  // ---- clock ----

  nowMs(): number {
    return this.opts.now() + this.offsetMs;
  }

  nowUs(): number {
    return Math.floor(this.nowMs() * 1000);
  }

  advance(ms: number): number {
    this.offsetMs += ms;
    return this.nowMs();
  }

  setClock(ms: number): void {
    this.offsetMs = ms - this.opts.now();
  }

  setProcessing(mode: ProcessingMode): void {
    this.mode = toMode(mode);
  }

  // ---- the processing queue ----

  setProcessingQueue(cap: ProcessingQueueCap | null): void {
    this.queueCap = checkQueueCap(cap);
  }

  /** Requests the model has yet to process in batches not ended, and those batches. */
  inFlight(): InFlight {
    let requests = 0;
    let batches = 0;
    for (const b of [...this.unended]) {
      this.tick(b, false);
      if (b.status === 'ended') continue;
      batches++;
      requests += b.n - b.next;
    }
    return { requests, batches };
  }

  /**
   * Whether a create of `n` requests fits in the processing queue: null when it does, else the
   * refusal (429 `rate_limit_error`, the documented type of a rate limit; the message's wording is
   * our own, the real one is not documented).
   */
  admit(n: number): { message: string; retryAfterSec: number } | null {
    const cap = this.queueCap;
    if (!cap) return null;
    const queued = this.inFlight().requests;
    if (queued + n <= cap.maxRequests) return null;
    this.stats.processingQueue.refusals++;
    return {
      message: `Number of batch requests in the processing queue would exceed the workspace's limit of ${cap.maxRequests} (${queued} queued, ${n} in this batch).`,
      retryAfterSec: cap.retryAfterSec ?? 60,
    };
  }

  // ---- batches ----

  /** Creates a batch from an already validated envelope. */
  createBatch(requests: { custom_id: string; params: unknown }[]): Batch {
    let createdUs = this.nowUs();
    if (createdUs <= this.lastCreatedUs) createdUs = this.lastCreatedUs + 1;
    this.lastCreatedUs = createdUs;
    const n = requests.length;
    const b: Batch = {
      id: randomId('msgbatch_'),
      seq: this.batchList.length,
      createdUs,
      expiresUs: createdUs + EXPIRY_US,
      endedUs: null,
      cancelUs: null,
      archivedUs: null,
      status: 'in_progress',
      mode: this.mode,
      pendingInstant: this.mode === 'instant',
      n,
      customIds: requests.map((r) => r.custom_id),
      params: requests.map((r) => r.params),
      outcome: new Uint8Array(n),
      lines: new Array(n),
      next: 0,
      counts: { succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      cache: new Set(),
      deleted: false,
    };
    this.batchList.push(b);
    this.byId.set(b.id, b);
    this.unended.add(b);
    this.stats.batchesCreated++;
    this.stats.requestsSeen += n;
    const q = this.stats.processingQueue;
    q.peakRequests = Math.max(q.peakRequests, this.inFlight().requests);
    return b;
  }

  /** A batch by id (including deleted ones). */
  get(id: string): Batch | undefined {
    return this.byId.get(id);
  }

  /** All batches in creation order. */
  all(): readonly Batch[] {
    return this.batchList;
  }

  /**
   * Applies everything that has happened by now. `access` marks a retrieve or list: that is what ends an
   * instant-mode batch and completes a canceling one.
   */
  tick(b: Batch, access: boolean): void {
    const now = this.nowUs();
    if (b.status !== 'ended') {
      const horizon = Math.min(now, b.expiresUs);
      if (b.status === 'in_progress') {
        if (typeof b.mode === 'object') {
          const d = b.mode.delayUs;
          const elapsed = horizon - b.createdUs;
          const target = d <= 0 ? b.n : Math.min(b.n, Math.floor((b.n * elapsed) / d));
          this.processTo(b, target);
          if (b.next >= b.n) this.finalize(b, EXPIRED, Math.min(b.createdUs + d, b.expiresUs));
        } else if (b.pendingInstant && (access || now >= b.expiresUs)) {
          // An instant batch is processed at its first observation; if nobody looked before
          // expires_at, it still counts as processed (instantly) rather than expired.
          this.processTo(b, b.n);
          this.finalize(b, EXPIRED, horizon);
        }
      } else if (access) {
        this.finalize(b, CANCELED, Math.max(b.cancelUs ?? 0, horizon));
      }
      // (re-read: finalize() above may have ended it)
      const status = b.status as Batch['status'];
      if (status !== 'ended' && now >= b.expiresUs) {
        this.finalize(b, status === 'canceling' ? CANCELED : EXPIRED, b.expiresUs);
      }
    }
    if (b.status === 'ended' && b.archivedUs === null && now >= b.createdUs + RETENTION_US) {
      b.archivedUs = b.createdUs + RETENTION_US;
    }
  }

  /** Processes requests in submission order up to (excluding) index `target`. */
  processTo(b: Batch, target: number): void {
    const end = Math.min(target, b.n);
    while (b.next < end) {
      this.processOne(b, b.next);
      b.next++;
    }
  }

  private setOutcome(b: Batch, i: number, code: number, line: string | undefined): void {
    b.outcome[i] = code;
    b.lines[i] = line;
    if (!this.opts.recordRequests) b.params[i] = undefined;
    const name = OUTCOME_NAMES[code] as 'succeeded' | 'errored' | 'canceled' | 'expired';
    b.counts[name]++;
    this.stats.outcomes[name]++;
  }

  private processOne(b: Batch, i: number): void {
    const customId = b.customIds[i]!;
    const params = b.params[i];
    this.stats.requestsProcessed++;
    const invalid = validateParams(params, 'batch');
    if (invalid !== null) {
      this.setOutcome(b, i, ERRORED, erroredLine(customId, 'invalid_request_error', invalid, null));
      return;
    }
    const rule = this.pickRule(customId);
    if (rule) {
      if (rule.outcome === 'errored') {
        const type = rule.errorType ?? 'api_error';
        const message = rule.message ?? defaultErrorMessage(type);
        const line = erroredLine(customId, type, message, randomId('req_'), rule.errorCode);
        this.setOutcome(b, i, ERRORED, line);
      } else {
        this.setOutcome(b, i, rule.outcome === 'expired' ? EXPIRED : CANCELED, undefined);
      }
      return;
    }
    try {
      const p = params as Record<string, unknown>;
      const cache: PromptCache = { has: (k) => b.cache.has(k), put: (k) => void b.cache.add(k) };
      const usage = accountTokens(analyzePrompt(p), cache, this.opts.minCacheableTokens);
      const geo = inferenceGeoOf(p, this.opts.inferenceGeo);
      const built = buildMessage(customId, p, this.opts.respond, usage, 'batch', geo);
      addTokens(this.stats.batchTokens, built.usage, built.outputTokens);
      const line = JSON.stringify({
        custom_id: customId,
        result: { type: 'succeeded', message: built.message },
      });
      this.setOutcome(b, i, SUCCEEDED, line);
    } catch (err) {
      if (!this.opts.quiet) console.error(`[emulator] responder failed for ${customId}:`, err);
      this.setOutcome(
        b,
        i,
        ERRORED,
        erroredLine(customId, 'api_error', 'Internal server error', randomId('req_')),
      );
    }
  }

  /** Ends a batch at `atUs`; every unprocessed request gets `rest` (canceled or expired). */
  private finalize(b: Batch, rest: typeof CANCELED | typeof EXPIRED, atUs: number): void {
    for (let i = b.next; i < b.n; i++) this.setOutcome(b, i, rest, undefined);
    b.next = b.n;
    b.status = 'ended';
    b.endedUs = atUs;
    b.pendingInstant = false;
    this.unended.delete(b);
  }

  /** Starts cancellation. Fails with 400 on an ended batch; a canceling batch is returned as is. */
  cancel(b: Batch): Outcome<Batch> {
    this.tick(b, false);
    if (b.status === 'ended') {
      return {
        ok: false,
        status: 400,
        type: 'invalid_request_error',
        message: `Message Batch ${b.id} has already ended and can no longer be canceled.`,
      };
    }
    if (b.status === 'in_progress') {
      b.status = 'canceling';
      b.cancelUs = Math.max(this.nowUs(), b.createdUs);
      b.pendingInstant = false;
    }
    return { ok: true, value: b };
  }

  /** Processes `count` (default all) more requests of an in-progress (or canceling) batch. */
  processManually(b: Batch, count?: number): void {
    this.tick(b, false);
    if (b.status === 'ended') return;
    b.pendingInstant = false;
    this.processTo(b, count === undefined ? b.n : b.next + Math.max(0, Math.floor(count)));
    if (b.next >= b.n) this.finalize(b, CANCELED, Math.min(this.nowUs(), b.expiresUs));
  }

  /** Ends a batch now: in progress → the rest is processed; canceling → the rest is canceled. */
  completeNow(b: Batch): void {
    this.tick(b, false);
    if (b.status === 'ended') return;
    if (b.status === 'in_progress') this.processTo(b, b.n);
    this.finalize(b, CANCELED, Math.min(this.nowUs(), b.expiresUs));
  }

  /** The MessageBatch object as the API returns it. */
  toJSON(b: Batch, baseUrl = this.baseUrl): MessageBatchObject {
    const ended = b.status === 'ended';
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: b.status,
      request_counts: ended
        ? { processing: 0, ...b.counts }
        : { processing: b.n, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: b.endedUs === null ? null : rfc3339(b.endedUs),
      created_at: rfc3339(b.createdUs),
      expires_at: rfc3339(b.expiresUs),
      archived_at: b.archivedUs === null ? null : rfc3339(b.archivedUs),
      cancel_initiated_at: b.cancelUs === null ? null : rfc3339(b.cancelUs),
      results_url: ended ? `${baseUrl}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  /** Snapshot for `inspect` (time-based transitions applied, access-triggered ones not). */
  inspectBatch(b: Batch): InspectedBatch {
    this.tick(b, false);
    return { ...this.toJSON(b), deleted: b.deleted };
  }

  inspectRequests(b: Batch): InspectedRequest[] {
    this.tick(b, false);
    return b.customIds.map((custom_id, i) => ({
      custom_id,
      params: this.opts.recordRequests ? b.params[i] : undefined,
      outcome: OUTCOME_NAMES[b.outcome[i] ?? 0]!,
    }));
  }

  /** Newest first, with `after_id` / `before_id` cursors as the SDK's `Page` uses them. */
  list(
    limit: number,
    afterId: string | undefined,
    beforeId: string | undefined,
  ): Outcome<{ data: Batch[]; has_more: boolean }> {
    for (const b of this.batchList) if (!b.deleted) this.tick(b, true);
    const cursorId = afterId ?? beforeId;
    let cursor: Batch | undefined;
    if (cursorId !== undefined) {
      cursor = this.byId.get(cursorId);
      if (!cursor) {
        const which = afterId !== undefined ? 'after_id' : 'before_id';
        return {
          ok: false,
          status: 400,
          type: 'invalid_request_error',
          message: `${which}: unknown Message Batch id`,
        };
      }
    }
    const live = this.batchList.filter((b) => !b.deleted);
    let candidates: Batch[];
    if (beforeId !== undefined && cursor) {
      // Newer than the cursor; the page is the `limit` closest to it, shown newest first.
      const newer = live.filter((b) => b.seq > cursor.seq);
      const page = newer.slice(0, limit).reverse();
      return { ok: true, value: { data: page, has_more: newer.length > limit } };
    }
    if (cursor) candidates = live.filter((b) => b.seq < cursor.seq).reverse();
    else candidates = live.slice().reverse();
    return { ok: true, value: { data: candidates.slice(0, limit), has_more: candidates.length > limit } };
  }

  /** Deterministic, never-identity permutation of result order (results are "not in submission order"). */
  resultOrder(b: Batch): Uint32Array {
    const order = new Uint32Array(b.n);
    for (let i = 0; i < b.n; i++) order[i] = i;
    const rand = prng(fnv1a(b.id));
    for (let i = b.n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    if (b.n > 1 && order.every((v, i) => v === i)) order.reverse();
    return order;
  }

  /** The JSONL line (without newline) of request `i` of an ended batch. */
  resultLine(b: Batch, i: number): string {
    const code = b.outcome[i];
    if (code === SUCCEEDED || code === ERRORED) return b.lines[i]!;
    const type = code === CANCELED ? 'canceled' : 'expired';
    return JSON.stringify({ custom_id: b.customIds[i], result: { type } });
  }

  // ---- real-time Messages API ----

  /** Answers `POST /v1/messages` (non-streaming) with a prompt cache living 5 min (or 1 h) on the emulator clock. */
  realtimeMessage(params: unknown): Outcome<Record<string, unknown>> {
    const invalid = validateParams(params, 'realtime');
    if (invalid !== null) return { ok: false, status: 400, type: 'invalid_request_error', message: invalid };
    const p = params as Record<string, unknown>;
    const now = this.nowUs();
    const rc = this.realtimeCache;
    if (rc.size > 50_000) for (const [k, exp] of rc) if (exp <= now) rc.delete(k);
    const cache: PromptCache = {
      has: (key, ttl) => {
        const exp = rc.get(key);
        if (exp === undefined || exp <= now) return false;
        rc.set(key, Math.max(exp, now + TTL_US[ttl]));
        return true;
      },
      put: (key, ttl) => void rc.set(key, now + TTL_US[ttl]),
    };
    const usage = accountTokens(analyzePrompt(p), cache, this.opts.minCacheableTokens);
    const geo = inferenceGeoOf(p, this.opts.inferenceGeo);
    const built = buildMessage(undefined, p, this.opts.respond, usage, 'standard', geo);
    addTokens(this.stats.messageTokens, built.usage, built.outputTokens);
    this.stats.messagesServed++;
    return { ok: true, value: built.message };
  }

  // ---- outcome rules ----

  injectOutcome(rule: OutcomeRule): InjectionHandle {
    if (!['errored', 'expired', 'canceled'].includes(rule.outcome)) {
      throw new TypeError(`invalid outcome: ${String(rule.outcome)}`);
    }
    return inject(this.rules, {
      id: `outcome_${this.nextInjectionId++}`,
      rule,
      remaining: rule.times ?? Number.POSITIVE_INFINITY,
      hits: 0,
      seen: new Map(),
    });
  }

  clearOutcomes(): void {
    this.rules.length = 0;
  }

  private pickRule(customId: string): OutcomeRule | undefined {
    for (const e of this.rules) {
      if (e.remaining <= 0) continue;
      const m = e.rule.match;
      if (m instanceof RegExp) {
        m.lastIndex = 0;
        if (!m.test(customId)) continue;
      } else if (typeof m === 'function' && !m(customId)) continue;
      const rate = e.rule.rate ?? 1;
      if (rate < 1) {
        if (rate <= 0) continue;
        const occurrence = e.seen.get(customId) ?? 0;
        e.seen.set(customId, occurrence + 1);
        if (fnv1a(`${customId}#${occurrence}`) / 4294967296 >= rate) continue;
      }
      e.remaining--;
      e.hits++;
      return e.rule;
    }
    return undefined;
  }

  // ---- faults ----

  injectFault(fault: Fault): InjectionHandle {
    return inject(this.faults, {
      id: `fault_${this.nextInjectionId++}`,
      fault,
      remaining: fault.kind === 'not-found-after-create' ? Number.POSITIVE_INFINITY : (fault.times ?? 1),
      hits: 0,
    });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /**
   * The first applicable fault for an endpoint among `kinds`, consumed. For `not-found-after-create`, `batch`
   * must be given and younger than `forMs`.
   */
  takeFault<K extends Fault['kind']>(
    endpoint: FaultEndpoint,
    kinds: readonly K[],
    batch?: Batch,
  ): (Extract<Fault, { kind: K }> & { id: string }) | undefined {
    for (const e of this.faults) {
      const f = e.fault;
      if (f.endpoint !== endpoint || !kinds.includes(f.kind as K) || e.remaining <= 0) continue;
      if (f.kind === 'not-found-after-create') {
        if (!batch || this.nowUs() - batch.createdUs >= f.forMs * 1000) continue;
      }
      e.remaining--;
      e.hits++;
      this.stats.faultsTriggered++;
      return { ...(f as Extract<Fault, { kind: K }>), id: e.id };
    }
    return undefined;
  }
}

function checkQueueCap(cap: ProcessingQueueCap | null | undefined): ProcessingQueueCap | null {
  if (!cap) return null;
  if (!Number.isInteger(cap.maxRequests) || cap.maxRequests < 1) {
    throw new TypeError(`processingQueue.maxRequests must be a positive integer (got ${cap.maxRequests})`);
  }
  if (cap.retryAfterSec !== undefined && !(cap.retryAfterSec > 0)) {
    throw new TypeError(`processingQueue.retryAfterSec must be > 0 (got ${cap.retryAfterSec})`);
  }
  return { ...cap };
}

function erroredLine(
  customId: string,
  type: string,
  message: string,
  requestId: string | null,
  errorCode?: string,
): string {
  const error = { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) };
  return JSON.stringify({
    custom_id: customId,
    result: { type: 'errored', error: { type: 'error', error, request_id: requestId } },
  });
}
