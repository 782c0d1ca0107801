import {
  CUSTOM_ID_PATTERN,
  deriveCustomId,
  type FieldIssue,
  illFormedKey,
  loneSurrogateAt,
  MODEL_ID_PATTERN,
} from '@nightshift/shared';
import type { EnqueueItem } from '@nightshift/store';
import { NonJsonValue, toJson } from './canonical.js';
import { groupKey } from './group.js';
import { sha256 } from './hash.js';
import { checkModel, type ModelCheckContext } from './lifecycle.js';
import type { EnqueueRequest, RealtimeChoice } from './types.js';

/** feature and partition: safe in ledger fields, metric labels and key names. */
export const TAG_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Metadata travels with the request and its result; keep it small. */
const MAX_METADATA_BYTES = 16 * 1024;
/** The most `max_tokens` the Batches API takes (with its extended-output beta, batch only). */
export const MAX_TOKENS_LIMIT = 300_000;
/** The furthest a deadline may be: a batch runs within 24 h, so a later one means no deadline. */
export const DEADLINE_HORIZON_MS = 366 * 86_400_000;
/** The largest time `Date` can hold, ms either side of the epoch. */
const MAX_DATE_MS = 8.64e15;

const REQUEST_FIELDS = new Set([
  'params',
  'feature',
  'customId',
  'key',
  'deadline',
  'metadata',
  'partition',
  'realtime',
]);
/** Removed in API version 2026-10-21 (SDK 1.x): the API rejects them. */
const REMOVED_PARAMS = ['temperature', 'top_p', 'top_k'] as const;

/**
 * A request that passed validation, in the form the store writes (`params` is the canonical JSON of
 * the routed params: stored, sent, measured and hashed); the producer decides its state from
 * `realtime` and the deadline.
 */
export interface PreparedRequest extends Omit<EnqueueItem, 'realtimeAllowed' | 'state'> {
  index: number;
  realtime: RealtimeChoice | undefined;
}

type At = (field: string, message: string) => void;

export interface ValidateContext extends ModelCheckContext {
  maxRequestBytes: number;
  routeModel: ((req: EnqueueRequest) => string) | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);

/** `{"custom_id":"<cid>","params":<params>}`: the request line the batcher sends. */
const ENVELOPE_BYTES = Buffer.byteLength('{"custom_id":"","params":}');

/**
 * Checks one request and prepares it for the store. Every problem found is reported (never thrown):
 * hostile input (getters that throw, cycles, deep nesting) becomes an issue too.
 */
export function prepareRequest(
  req: unknown,
  index: number,
  ctx: ValidateContext,
): { item: PreparedRequest | null; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const at: At = (field, message) => {
    issues.push({ index, field, message });
  };
  try {
    const item = prepare(req, index, ctx, at);
    return { item: issues.length ? null : item, issues };
  } catch (err) {
    const message =
      err instanceof RangeError
        ? 'is nested too deeply to serialize; flatten it'
        : `could not be read (${(err as Error)?.message ?? String(err)}); pass plain data`;
    at('request', message);
    return { item: null, issues };
  }
}

function prepare(req: unknown, index: number, ctx: ValidateContext, at: At): PreparedRequest | null {
  if (!isObj(req)) {
    at('request', `must be an object with params, feature and customId or key; got ${describe(req)}`);
    return null;
  }
  for (const k of Object.keys(req)) {
    // An unknown field left undefined is harmless (optional spreads); one with a value is a typo.
    if (REQUEST_FIELDS.has(k) || (req as Obj)[k] === undefined) continue;
    at(k, k === 'custom_id' ? 'unknown field; did you mean customId?' : 'unknown field; remove it');
  }
  const r = req as Obj;
  const feature = r.feature;
  if (typeof feature !== 'string' || !TAG_PATTERN.test(feature)) {
    at('feature', 'is required: 1–64 characters of A-Z a-z 0-9 _ . - (e.g. "classify-docs")');
  }
  const cid = customIdOf(r, at);
  const partition = r.partition === undefined ? 'default' : r.partition;
  if (typeof partition !== 'string' || !TAG_PATTERN.test(partition)) {
    at('partition', 'must be 1–64 characters of A-Z a-z 0-9 _ . - (or omitted for "default")');
  }
  if (r.realtime !== undefined && r.realtime !== 'never' && r.realtime !== 'fallback') {
    at('realtime', "must be 'never' or 'fallback' (or omitted for the producer's default)");
  }
  const deadline = deadlineOf(r.deadline, ctx.now, at);
  const meta = metadataOf(r.metadata, at);
  const params = paramsOf(r, ctx, at);
  if (params) checkModel(params.value, ctx, at);
  if (!params || cid === null || typeof feature !== 'string' || typeof partition !== 'string') return null;
  const bytes = ENVELOPE_BYTES + cid.length + Buffer.byteLength(params.json);
  if (bytes > ctx.maxRequestBytes) {
    at(
      'params',
      `serializes to ${bytes} bytes, more than the ${ctx.maxRequestBytes} a batch can take; ` +
        'shorten the prompt or split the work',
    );
    return null;
  }
  return {
    index,
    cid,
    feature,
    model: params.model,
    params: params.json,
    phash: sha256(params.json),
    meta,
    deadline,
    partition,
    group: groupKey(partition, params.model, params.value),
    bytes,
    realtime: r.realtime as RealtimeChoice | undefined,
  };
}

function customIdOf(r: Obj, at: At): string | null {
  const { customId, key } = r;
  if (customId !== undefined && key !== undefined) {
    at('customId', 'give either customId or key, not both');
    return null;
  }
  if (customId === undefined && key === undefined) {
    at('key', 'give a stable key (e.g. the document id) or an explicit customId');
    return null;
  }
  if (customId !== undefined) {
    if (typeof customId === 'string' && CUSTOM_ID_PATTERN.test(customId)) return customId;
    at('customId', 'must be 1–64 characters of A-Z a-z 0-9 _ - (or pass key and let it be derived)');
    return null;
  }
  if (typeof key !== 'string' || key.length === 0) {
    at('key', `must be a non-empty string (got ${describe(key)}); use String(id) for numbers`);
    return null;
  }
  const lone = loneSurrogateAt(key);
  if (lone >= 0) {
    at('key', illFormedKey(lone));
    return null;
  }
  return typeof r.feature === 'string' ? deriveCustomId(r.feature, key) : null;
}

function deadlineOf(d: unknown, now: number, at: At): number | null {
  if (d === undefined || d === null) return null;
  const ms =
    d instanceof Date ? d.getTime() : typeof d === 'number' ? d : typeof d === 'string' ? Date.parse(d) : NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    at('deadline', 'must be a valid Date, ms since the epoch, or an ISO-8601 string');
    return null;
  }
  if (ms > now + DEADLINE_HORIZON_MS) {
    at(
      'deadline',
      `is ${new Date(ms).toISOString()}, more than 366 days ahead; batches finish within 24 h, so omit a deadline that far`,
    );
    return null;
  }
  return Math.floor(ms);
}

function metadataOf(m: unknown, at: At): string {
  if (m === undefined) return '';
  try {
    const json = toJson(m, false, 'metadata');
    const size = Buffer.byteLength(json);
    if (size > MAX_METADATA_BYTES) {
      at('metadata', `is ${size} bytes as JSON, over ${MAX_METADATA_BYTES}; keep ids here, not documents`);
    }
    return json;
  } catch (err) {
    if (!(err instanceof NonJsonValue)) throw err;
    at(err.path, err.detail);
    return '';
  }
}

function paramsOf(r: Obj, ctx: ValidateContext, at: At): { json: string; model: string; value: Obj } | null {
  const given = r.params;
  if (!isObj(given)) {
    at('params', `must be the Messages params object (model, max_tokens, messages); got ${describe(given)}`);
    return null;
  }
  let p = given;
  if (ctx.routeModel) {
    let routed: unknown;
    try {
      routed = ctx.routeModel(r as unknown as EnqueueRequest);
    } catch (err) {
      at('params.model', `routeModel threw: ${(err as Error)?.message ?? String(err)}`);
      return null;
    }
    if (routed !== given.model) p = { ...given, model: routed };
  }
  const before = checkParams(p, at);
  try {
    const json = toJson(p, true, 'params');
    return before ? { json, model: p.model as string, value: p } : null;
  } catch (err) {
    if (!(err instanceof NonJsonValue)) throw err;
    at(err.path, err.detail);
    return null;
  }
}

/** The checks the Batches API would only report hours later, as an errored result. */
function checkParams(p: Obj, report: At): boolean {
  let ok = true;
  const at: At = (field, message) => {
    ok = false;
    report(field, message);
  };
  if (typeof p.model !== 'string' || !MODEL_ID_PATTERN.test(p.model)) {
    at('params.model', 'must be a model id such as "claude-haiku-4-5": 1–64 of A-Z a-z 0-9 . _ -');
  }
  const mt = p.max_tokens;
  if (typeof mt !== 'number' || !Number.isInteger(mt) || mt < 1 || mt > MAX_TOKENS_LIMIT) {
    at(
      'params.max_tokens',
      `must be an integer from 1 to ${MAX_TOKENS_LIMIT} (0, cache pre-warming, is not allowed in batches; ${MAX_TOKENS_LIMIT} is the most the Batches API takes)`,
    );
  }
  if (!Array.isArray(p.messages) || p.messages.length === 0) {
    at('params.messages', 'must be a non-empty array of { role, content }');
  } else {
    p.messages.forEach((m, i) => {
      if (!isObj(m)) {
        at(`params.messages[${i}]`, 'must be an object { role, content }');
        return;
      }
      if (m.role !== 'user' && m.role !== 'assistant') {
        at(
          `params.messages[${i}].role`,
          "must be 'user' or 'assistant' (the system prompt goes in params.system)",
        );
      }
      if (typeof m.content !== 'string' && !Array.isArray(m.content)) {
        at(`params.messages[${i}].content`, 'must be a string or an array of content blocks');
      }
    });
  }
  if (p.stream !== undefined && p.stream !== false) {
    at('params.stream', 'batches are not streamed; remove stream');
  }
  for (const k of REMOVED_PARAMS) {
    if (k in p && p[k] !== undefined) {
      at(`params.${k}`, 'was removed in API version 2026-10-21 (SDK 1.x) and is rejected; remove it');
    }
  }
  if (p.system !== undefined && typeof p.system !== 'string' && !Array.isArray(p.system)) {
    at('params.system', 'must be a string or an array of text blocks');
  }
  if (p.tools !== undefined && !Array.isArray(p.tools)) at('params.tools', 'must be an array of tools');
  return ok;
}
