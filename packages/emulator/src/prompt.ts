import { createHash, type Hash } from 'node:crypto';
import type { ResponderRequest } from './types.js';
import { deterministicId, fnv1a, isObject, sha1, stableStringify } from './util.js';

/** Where a request is being answered: inside a batch or by the real-time Messages API. */
export type Channel = 'batch' | 'realtime';

const ROLES = new Set(['user', 'assistant', 'system']);
/** Sampling parameters removed in API version 2026-10-21 (the SDK 1.x types no longer have them). */
const REMOVED_PARAMS = ['temperature', 'top_p', 'top_k'] as const;
const MAX_CACHE_BREAKPOINTS = 4;

type Ttl = '5m' | '1h';

function validateCacheControl(cc: unknown, path: string): string | null {
  if (cc === undefined || cc === null) return null;
  if (!isObject(cc)) return `${path}: Input should be a valid dictionary`;
  if (cc.type !== 'ephemeral') return `${path}.type: Input should be 'ephemeral'`;
  if (cc.ttl !== undefined && cc.ttl !== '5m' && cc.ttl !== '1h')
    return `${path}.ttl: Input should be '5m' or '1h'`;
  return null;
}

function validateTextBlocks(blocks: unknown[], path: string): string | null {
  for (let j = 0; j < blocks.length; j++) {
    const b = blocks[j];
    if (!isObject(b)) return `${path}.${j}: Input should be a valid dictionary`;
    if (b.type !== 'text') return `${path}.${j}.type: Input should be 'text'`;
    if (typeof b.text !== 'string') return `${path}.${j}.text: Input should be a valid string`;
    if (b.text === '') return `${path}: text content blocks must be non-empty`;
    const cc = validateCacheControl(b.cache_control, `${path}.${j}.cache_control`);
    if (cc) return cc;
  }
  return null;
}

/**
 * Validates Messages API params the way the API does asynchronously for batch requests. Returns the
 * `invalid_request_error` message, or null when the params are acceptable. Unknown top-level keys are
 * accepted (beta features exist that the emulator does not know about); the sampling parameters removed
 * in API 2026-10-21 are rejected.
 */
export function validateParams(p: unknown, channel: Channel): string | null {
  if (!isObject(p)) return 'params: Input should be a valid dictionary';
  for (const k of REMOVED_PARAMS) {
    if (k in p) return `${k}: Extra inputs are not permitted`;
  }
  if (p.model === undefined) return 'model: Field required';
  if (typeof p.model !== 'string') return 'model: Input should be a valid string';
  if (p.model === '') return 'model: String should have at least 1 character';

  const minTokens = channel === 'batch' ? 1 : 0;
  if (p.max_tokens === undefined) return 'max_tokens: Field required';
  if (typeof p.max_tokens !== 'number' || !Number.isInteger(p.max_tokens)) {
    return 'max_tokens: Input should be a valid integer';
  }
  if (p.max_tokens < minTokens) {
    return channel === 'batch'
      ? 'max_tokens: Input should be greater than or equal to 1 (max_tokens: 0 is not supported in a Message Batch)'
      : 'max_tokens: Input should be greater than or equal to 0';
  }

  if (p.stream !== undefined && p.stream !== false) {
    if (p.stream === true) {
      return channel === 'batch'
        ? 'stream: streaming is not supported for requests in a Message Batch'
        : 'stream: streaming responses are not supported by the Nightshift emulator';
    }
    return 'stream: Input should be a valid boolean';
  }

  if (p.messages === undefined) return 'messages: Field required';
  if (!Array.isArray(p.messages)) return 'messages: Input should be a valid list';
  if (p.messages.length === 0) return 'messages: at least one message is required';
  const last = p.messages.length - 1;
  for (let i = 0; i < p.messages.length; i++) {
    const m = p.messages[i];
    const path = `messages.${i}`;
    if (!isObject(m)) return `${path}: Input should be a valid dictionary`;
    if (m.role === undefined) return `${path}.role: Field required`;
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
      return `${path}.role: Input should be 'user', 'assistant' or 'system'`;
    }
    const finalAssistant = i === last && m.role === 'assistant';
    if (m.content === undefined) return `${path}.content: Field required`;
    if (typeof m.content === 'string') {
      if (m.content === '' && !finalAssistant) {
        return `${path}: all messages must have non-empty content except for the optional final assistant message`;
      }
      continue;
    }
    if (!Array.isArray(m.content)) return `${path}.content: Input should be a valid string or list`;
    if (m.content.length === 0 && !finalAssistant) {
      return `${path}: all messages must have non-empty content except for the optional final assistant message`;
    }
    for (let j = 0; j < m.content.length; j++) {
      const b = m.content[j];
      const bp = `${path}.content.${j}`;
      if (!isObject(b)) return `${bp}: Input should be a valid dictionary`;
      if (typeof b.type !== 'string') return `${bp}.type: Field required`;
      if (b.type === 'text') {
        if (typeof b.text !== 'string') return `${bp}.text: Field required`;
        if (b.text === '') return 'messages: text content blocks must be non-empty';
      }
      const cc = validateCacheControl(b.cache_control, `${bp}.cache_control`);
      if (cc) return cc;
    }
  }

  if (p.system !== undefined) {
    if (Array.isArray(p.system)) {
      const e = validateTextBlocks(p.system, 'system');
      if (e) return e;
    } else if (typeof p.system !== 'string') {
      return 'system: Input should be a valid string or list';
    }
  }
  if (p.tools !== undefined) {
    if (!Array.isArray(p.tools)) return 'tools: Input should be a valid list';
    for (let i = 0; i < p.tools.length; i++) {
      const t = p.tools[i];
      if (!isObject(t)) return `tools.${i}: Input should be a valid dictionary`;
      if (typeof t.name !== 'string' || t.name === '') return `tools.${i}.name: Field required`;
      const cc = validateCacheControl(t.cache_control, `tools.${i}.cache_control`);
      if (cc) return cc;
    }
  }
  if (p.stop_sequences !== undefined) {
    if (!Array.isArray(p.stop_sequences) || p.stop_sequences.some((s: unknown) => typeof s !== 'string')) {
      return 'stop_sequences: Input should be a valid list of strings';
    }
  }
  if (p.metadata !== undefined && !isObject(p.metadata))
    return 'metadata: Input should be a valid dictionary';
  const topCc = validateCacheControl(p.cache_control, 'cache_control');
  if (topCc) return topCc;
  if (p.inference_geo !== undefined && p.inference_geo !== null) {
    if (p.inference_geo !== 'global' && p.inference_geo !== 'us') {
      return "inference_geo: Input should be 'global' or 'us'";
    }
    if (!takesInferenceGeo(p.model)) {
      return `inference_geo: not supported by model ${p.model} (data residency needs a Claude 4.6 or later model)`;
    }
  }

  // Breakpoint count and TTL ordering, as the API enforces them.
  const ttls = segmentsOf(p)
    .filter((s) => s.ttl !== null)
    .map((s) => s.ttl);
  if (ttls.length > MAX_CACHE_BREAKPOINTS) {
    return `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${ttls.length}.`;
  }
  const first5m = ttls.indexOf('5m');
  if (first5m !== -1 && ttls.indexOf('1h', first5m) !== -1) {
    return "a cache_control block with ttl='1h' must not come after a cache_control block with ttl='5m'";
  }
  return null;
}

interface Segment {
  kind: string;
  text: string;
  ttl: Ttl | null;
}

function ttlOf(cc: unknown): Ttl | null {
  if (!isObject(cc)) return null;
  return cc.ttl === '1h' ? '1h' : '5m';
}

function withoutCacheControl(o: Record<string, unknown>): Record<string, unknown> {
  if (!('cache_control' in o)) return o;
  const { cache_control: _cc, ...rest } = o;
  return rest;
}

/**
 * The prompt as an ordered list of cacheable blocks: tools, then system blocks, then message content
 * blocks. Text blocks count their text; other blocks (images, tool results, tool definitions…) count
 * their JSON. A param-level `cache_control` marks the last block.
 */
function segmentsOf(p: Record<string, unknown>): Segment[] {
  const out: Segment[] = [];
  if (Array.isArray(p.tools)) {
    for (const t of p.tools) {
      if (isObject(t))
        out.push({
          kind: 'tool',
          text: stableStringify(withoutCacheControl(t)),
          ttl: ttlOf(t.cache_control),
        });
    }
  }
  if (typeof p.system === 'string') out.push({ kind: 'system', text: p.system, ttl: null });
  else if (Array.isArray(p.system)) {
    for (const b of p.system) {
      if (isObject(b)) out.push({ kind: 'system', text: String(b.text ?? ''), ttl: ttlOf(b.cache_control) });
    }
  }
  if (Array.isArray(p.messages)) {
    for (const m of p.messages) {
      if (!isObject(m)) continue;
      const kind = `msg:${String(m.role)}`;
      if (typeof m.content === 'string') out.push({ kind, text: m.content, ttl: null });
      else if (Array.isArray(m.content)) {
        for (const b of m.content) {
          if (!isObject(b)) continue;
          const text =
            b.type === 'text' && typeof b.text === 'string'
              ? b.text
              : stableStringify(withoutCacheControl(b));
          out.push({ kind: `${kind}:${String(b.type)}`, text, ttl: ttlOf(b.cache_control) });
        }
      }
    }
  }
  const lastSeg = out[out.length - 1];
  if (isObject(p.cache_control) && lastSeg && lastSeg.ttl === null) lastSeg.ttl = ttlOf(p.cache_control);
  return out;
}

/** Tokens estimated from characters: ceil(chars / 4). */
function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** A cache breakpoint: the prompt prefix up to and including a block with `cache_control`. */
interface Breakpoint {
  key: string;
  tokens: number;
  ttl: Ttl;
}

/** Token estimate and cache breakpoints of a (valid) request. */
export interface PromptAnalysis {
  totalTokens: number;
  breakpoints: Breakpoint[];
}

/** Estimates input tokens and finds the cache breakpoints; prefix keys hash the model and the prefix content. */
export function analyzePrompt(p: Record<string, unknown>): PromptAnalysis {
  const segs = segmentsOf(p);
  let chars = 0;
  const breakpoints: Breakpoint[] = [];
  let lastBreakpoint = -1;
  segs.forEach((s, i) => {
    if (s.ttl !== null) lastBreakpoint = i;
  });
  let hash: Hash | null = lastBreakpoint >= 0 ? createHash('sha1').update(String(p.model)) : null;
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    chars += s.text.length;
    if (hash) {
      hash.update(`\u0000${s.kind}\u0000${s.text}`);
      if (s.ttl !== null) {
        breakpoints.push({ key: hash.copy().digest('base64'), tokens: estimateTokens(chars), ttl: s.ttl });
        if (i === lastBreakpoint) hash = null;
      }
    }
  }
  return { totalTokens: estimateTokens(chars), breakpoints };
}

/** Token accounting of one answered request. */
export interface TokenUsage {
  input: number;
  cacheCreation5m: number;
  cacheCreation1h: number;
  cacheRead: number;
}

/** A prompt cache: `has` checks an entry (and refreshes it), `put` stores one. */
export interface PromptCache {
  has(key: string, ttl: Ttl): boolean;
  put(key: string, ttl: Ttl): void;
}

/**
 * Prompt-caching accounting. The longest breakpoint prefix already cached is read; the uncached span up to
 * the last breakpoint is written (per breakpoint, with that breakpoint's ttl); prefixes shorter than
 * `minTokens` are never cached. `input` is what remains uncached.
 */
export function accountTokens(a: PromptAnalysis, cache: PromptCache, minTokens: number): TokenUsage {
  const bps = a.breakpoints.filter((b) => b.tokens >= minTokens);
  let readIdx = -1;
  for (let j = bps.length - 1; j >= 0; j--) {
    const b = bps[j]!;
    if (cache.has(b.key, b.ttl)) {
      readIdx = j;
      break;
    }
  }
  const cacheRead = readIdx >= 0 ? bps[readIdx]!.tokens : 0;
  let prev = cacheRead;
  let c5 = 0;
  let c1 = 0;
  for (let j = readIdx + 1; j < bps.length; j++) {
    const b = bps[j]!;
    const seg = b.tokens - prev;
    if (seg <= 0) continue;
    if (b.ttl === '1h') c1 += seg;
    else c5 += seg;
    cache.put(b.key, b.ttl);
    prev = b.tokens;
  }
  return { input: Math.max(0, a.totalTokens - prev), cacheCreation5m: c5, cacheCreation1h: c1, cacheRead };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b) => isObject(b) && b.type === 'text' && typeof b.text === 'string')
    .map((b) => (b as { text: string }).text)
    .join('\n');
}

const LABELS_LINE = /^[ \t]*labels?[ \t]*:[ \t]*(.+?)[ \t]*$/im;

/**
 * The default responder. Deterministic in the request's system prompt and messages:
 * - if the last user message has a line `Labels: a, b, c`, the answer is exactly one of those labels,
 *   chosen by a hash of the system prompt + messages;
 * - otherwise a short sentence quoting an 8-hex-digit hash of the input and its word count.
 */
export function defaultRespond(req: ResponderRequest): string {
  const p = req.params as Record<string, unknown>;
  const messages: unknown[] = Array.isArray(p.messages) ? p.messages : [];
  let lastUser = '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isObject(m) && m.role === 'user') {
      lastUser = textOf(m.content);
      break;
    }
  }
  const digest = sha1(JSON.stringify([p.system ?? null, messages]));
  const labelsLine = LABELS_LINE.exec(lastUser);
  if (labelsLine?.[1]) {
    const labels = labelsLine[1]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (labels.length > 0) return labels[fnv1a(digest) % labels.length]!;
  }
  const words = lastUser.split(/\s+/).filter(Boolean).length;
  return `This is a deterministic emulated reply (ref ${digest.slice(0, 8)}) to a ${words}-word message.`;
}

const MODEL_VERSION = /^claude-[a-z]+-(\d+)(?:-(\d{1,2}))?(?:-\d{8})?$/;

/**
 * Whether a model takes `inference_geo`: Claude 4.6 and later (docs: Opus/Sonnet 4.6 and later; 400
 * on older models). Ids the emulator cannot read a version from are accepted.
 */
function takesInferenceGeo(model: string): boolean {
  const m = MODEL_VERSION.exec(model);
  if (!m) return true;
  const major = Number(m[1]);
  const minor = m[2] === undefined ? 0 : Number(m[2]);
  return major > 4 || (major === 4 && minor >= 6);
}

/**
 * Where inference ran (`usage.inference_geo`): the request's `inference_geo`, else the workspace
 * default, on models that take it; null otherwise.
 */
export function inferenceGeoOf(p: Record<string, unknown>, workspaceDefault: string | null): string | null {
  if (!takesInferenceGeo(String(p.model))) return null;
  return typeof p.inference_geo === 'string' ? p.inference_geo : workspaceDefault;
}

/** The `usage` object of a 1.x `Message`, with every field present. */
function usageObject(
  u: TokenUsage,
  output: number,
  tier: 'batch' | 'standard',
  inferenceGeo: string | null = null,
) {
  return {
    input_tokens: u.input,
    output_tokens: output,
    cache_creation_input_tokens: u.cacheCreation5m + u.cacheCreation1h,
    cache_read_input_tokens: u.cacheRead,
    cache_creation: {
      ephemeral_5m_input_tokens: u.cacheCreation5m,
      ephemeral_1h_input_tokens: u.cacheCreation1h,
    },
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: tier,
    inference_geo: inferenceGeo,
    speed: null,
  };
}

/** A built message plus its token numbers (for stats). */
export interface BuiltMessage {
  message: Record<string, unknown>;
  usage: TokenUsage;
  outputTokens: number;
}

/**
 * Builds a full 1.x `Message` for valid params. The text comes from `respond`, is cut at the first stop
 * sequence (`stop_reason: "stop_sequence"`) and then to `max_tokens` × 4 characters
 * (`stop_reason: "max_tokens"`). The id is derived from the custom_id and params, so it is deterministic.
 */
export function buildMessage(
  customId: string | undefined,
  p: Record<string, unknown>,
  respond: (req: ResponderRequest) => string,
  usage: TokenUsage,
  tier: 'batch' | 'standard',
  inferenceGeo: string | null = null,
): BuiltMessage {
  let text = String(respond(customId === undefined ? { params: p } : { customId, params: p }));
  let stopReason = 'end_turn';
  let stopSequence: string | null = null;
  if (Array.isArray(p.stop_sequences)) {
    let at = -1;
    for (const s of p.stop_sequences as string[]) {
      if (!s) continue;
      const i = text.indexOf(s);
      if (i !== -1 && (at === -1 || i < at)) {
        at = i;
        stopSequence = s;
      }
    }
    if (at !== -1) {
      text = text.slice(0, at);
      stopReason = 'stop_sequence';
    }
  }
  const maxTokens = p.max_tokens as number;
  if (estimateTokens(text.length) > maxTokens) {
    text = text.slice(0, maxTokens * 4);
    stopReason = 'max_tokens';
    stopSequence = null;
  }
  const outputTokens = estimateTokens(text.length);
  const message = {
    id: deterministicId('msg_', `${customId ?? ''}\u0000${JSON.stringify(p)}`),
    type: 'message',
    role: 'assistant',
    model: p.model,
    content: text === '' ? [] : [{ type: 'text', text, citations: null }],
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: usageObject(usage, outputTokens, tier, inferenceGeo),
  };
  return { message, usage, outputTokens };
}
