import { deriveCustomId, estimateCost, type FieldIssue, loneSurrogateAt, toNano } from '@nightshift/shared';
import type { EnqueueItem } from '@nightshift/store';
import { NonJsonValue, toJson } from './canonical.js';
import { groupKey } from './group.js';
import { sha256 } from './hash.js';
import { checkModel, type ModelCheckContext } from './lifecycle.js';
import { enqueueRequestSchema, fieldOf, TAG_PATTERN } from './schema.js';
import type { EnqueueRequest, RealtimeChoice } from './types.js';

export { TAG_PATTERN };

/** Metadata travels with the request and its result; keep it small. */
const MAX_METADATA_BYTES = 16 * 1024;
/** The furthest a deadline may be: a batch runs within 24 h, so a later one means no deadline. */
export const DEADLINE_HORIZON_MS = 366 * 86_400_000;

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

/**
 * The schema (schema.ts), then what it cannot say: one of customId/key, JSON values, sizes, the
 * deadline's horizon (it depends on the clock) and the model's lifecycle (on the price table).
 */
function prepare(req: unknown, index: number, ctx: ValidateContext, at: At): PreparedRequest | null {
  const route = applyRoute(req, ctx, at);
  if (!route) return null;
  const routed = route.req;
  const parsed = enqueueRequestSchema.safeParse(routed);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) at(fieldOf(issue.path), issue.message);
    if (!isObj(routed)) return null;
  }
  // zod takes an own `__proto__` key (JSON.parse makes one) for a known field: it is not one.
  const proto = Object.getOwnPropertyDescriptor(routed, '__proto__')?.value !== undefined;
  if (proto) at('__proto__', 'unknown field; remove it');
  const r = routed as Obj;
  const schemaOk = (field: string) => !parsed.error?.issues.some((i) => i.path[0] === field);
  const cid = customIdOf(r, at);
  if (schemaOk('deadline')) checkHorizon(r.deadline, ctx.now, at);
  const meta = metadataOf(r.metadata, at);
  const params = isObj(r.params) ? paramsJson(r.params, at) : null;
  // The lifecycle of the model, once the params themselves are valid.
  if (params && schemaOk('params')) checkModel(r.params as Obj, ctx, at);
  if (!parsed.success || !params || cid === null || proto) return null;
  const { feature, partition = 'default' } = parsed.data;
  const bytes = ENVELOPE_BYTES + cid.length + Buffer.byteLength(params);
  if (bytes > ctx.maxRequestBytes) {
    at(
      'params',
      `serializes to ${bytes} bytes, more than the ${ctx.maxRequestBytes} a batch can take; ` +
        'shorten the prompt or split the work',
    );
    return null;
  }
  const value = r.params as Obj;
  return {
    index,
    cid,
    feature,
    model: value.model as string,
    params,
    phash: sha256(params),
    meta,
    deadline: deadlineMs(parsed.data.deadline),
    partition,
    group: groupKey(partition, value.model as string, value),
    bytes,
    // The most it can cost at batch price: what a budget reserves when it is claimed.
    est: toNano(estimateCost(value as { model: string; max_tokens?: number }, params, bytes, ctx.prices)),
    realtime: parsed.data.realtime,
    notify: [...new Set(parsed.data.notify ?? [])].join(','),
  };
}

/** Applies routeModel before validation: the model it picks is the one validated, hashed and stored. */
function applyRoute(req: unknown, ctx: ValidateContext, at: At): { req: unknown } | null {
  if (!ctx.routeModel || !isObj(req) || !isObj(req.params)) return { req };
  let model: unknown;
  try {
    model = ctx.routeModel(req as unknown as EnqueueRequest);
  } catch (err) {
    at('params.model', `routeModel threw: ${(err as Error)?.message ?? String(err)}`);
    return null;
  }
  return { req: model === req.params.model ? req : { ...req, params: { ...req.params, model } } };
}

/** Exactly one of customId and key; the custom_id a key gives (its types are the schema's). */
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
  if (typeof customId === 'string') return customId;
  // The schema reported a key that is not a string or not well-formed Unicode.
  if (typeof key !== 'string' || typeof r.feature !== 'string' || loneSurrogateAt(key) >= 0) return null;
  return deriveCustomId(r.feature, key);
}

function deadlineMs(d: Date | number | string | null | undefined): number | null {
  if (d === undefined || d === null) return null;
  return Math.floor(d instanceof Date ? d.getTime() : typeof d === 'number' ? d : Date.parse(d));
}

/** A deadline the schema took, not further ahead than a deadline means anything. */
function checkHorizon(d: unknown, now: number, at: At): void {
  const ms = deadlineMs(d as Date | number | string | null | undefined);
  if (ms === null || !(ms > now + DEADLINE_HORIZON_MS)) return;
  at(
    'deadline',
    `is ${new Date(ms).toISOString()}, more than 366 days ahead; batches finish within 24 h, so omit a deadline that far`,
  );
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

/** The canonical JSON of the params: stored, sent, measured and hashed. */
function paramsJson(p: Obj, at: At): string | null {
  try {
    return toJson(p, true, 'params');
  } catch (err) {
    if (!(err instanceof NonJsonValue)) throw err;
    at(err.path, err.detail);
    return null;
  }
}
