import http from 'node:http';
import { type Batch, defaultErrorMessage, type Engine } from './engine.js';
import type { Fault, FaultEndpoint, HttpLogEntry } from './types.js';
import { isObject, randomId } from './util.js';

const MAX_REQUESTS = 100_000;
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** The real-time Messages API body limit (32 MB). */
const MESSAGES_BODY_LIMIT = 32 * 1024 * 1024;
const OTHER_BODY_LIMIT = 1024 * 1024;
const STREAM_CHUNK_CHARS = 64 * 1024;
const LOG_SIZE = 2000;
const ORGANIZATION_ID = '00000000-0000-4000-8000-0000000e0a1a';

const STATUS_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  408: 'timeout_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The documented status → `error.type` mapping (other 4xx → invalid_request_error, other 5xx → api_error). */
function errorTypeForStatus(status: number): string {
  return STATUS_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** Server settings resolved from EmulatorOptions. */
export interface ServerSettings {
  apiKey: string | undefined;
  maxBodyBytes: number;
  /** True when listening on 0.0.0.0 / ::, in which case `results_url` is built from the Host header. */
  wildcardHost: boolean;
  quiet: boolean;
}

type Route =
  | { endpoint: FaultEndpoint; id?: string }
  | { endpoint: 'other'; status: 404 | 405; message: string };

const BATCH_PATH = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/;

function route(method: string, path: string): Route {
  const bad = (allowed: string): Route => ({
    endpoint: 'other',
    status: 405,
    message: `Method ${method} is not allowed for ${path} (allowed: ${allowed})`,
  });
  if (path === '/v1/messages') return method === 'POST' ? { endpoint: 'messages' } : bad('POST');
  if (path === '/v1/messages/batches') {
    if (method === 'POST') return { endpoint: 'create' };
    if (method === 'GET') return { endpoint: 'list' };
    return bad('GET, POST');
  }
  const m = BATCH_PATH.exec(path);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      id = m[1]!;
    }
    if (m[2] === '/cancel') return method === 'POST' ? { endpoint: 'cancel', id } : bad('POST');
    if (m[2] === '/results') return method === 'GET' ? { endpoint: 'results', id } : bad('GET');
    if (method === 'GET') return { endpoint: 'retrieve', id };
    if (method === 'DELETE') return { endpoint: 'delete', id };
    return bad('GET, DELETE');
  }
  return { endpoint: 'other', status: 404, message: `Not found: ${method} ${path}` };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function credential(req: http.IncomingMessage): { key: string | null; candidates: string[] } {
  const candidates: string[] = [];
  const xKey = header(req, 'x-api-key')?.trim();
  if (xKey) candidates.push(xKey);
  const auth = header(req, 'authorization');
  const m = auth ? /^Bearer\s+(\S.*)$/i.exec(auth.trim()) : null;
  if (m?.[1]) candidates.push(m[1].trim());
  return { key: candidates[0] ?? null, candidates };
}

type BodyResult = { kind: 'ok'; buf: Buffer } | { kind: 'too-large'; size: number } | { kind: 'aborted' };

/** Reads a body, counting bytes as they stream; past `limit` it keeps draining but stops buffering. */
async function readBody(req: http.IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(header(req, 'content-length'));
  let over = Number.isFinite(declared) && declared > limit;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (!over && size > limit) {
        over = true;
        chunks.length = 0;
      }
      if (!over) chunks.push(chunk);
    }
  } catch {
    return { kind: 'aborted' };
  }
  return over ? { kind: 'too-large', size } : { kind: 'ok', buf: Buffer.concat(chunks, size) };
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The API's most common answer: 400 `invalid_request_error` with the message it gives. */
function invalidRequest(res: http.ServerResponse, message: string) {
  sendError(res, 400, 'invalid_request_error', message);
}

function sendError(
  res: http.ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
  errorCode?: string,
) {
  const requestId = String(res.getHeader('request-id') ?? '');
  const error = { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) };
  sendJson(res, status, { type: 'error', error, request_id: requestId }, headers);
}

/** Validates the create envelope; returns the requests or a 400 message naming the offending index. */
function validateEnvelope(body: unknown): { requests: { custom_id: string; params: unknown }[] } | string {
  if (!isObject(body)) return 'body: Input should be a valid dictionary';
  const requests = body.requests;
  if (requests === undefined) return 'requests: Field required';
  if (!Array.isArray(requests)) return 'requests: Input should be a valid list';
  if (requests.length === 0) return 'requests: List should have at least 1 item after validation, not 0';
  if (requests.length > MAX_REQUESTS) {
    return `requests: List should have at most ${MAX_REQUESTS} items after validation, not ${requests.length}`;
  }
  const seen = new Map<string, number>();
  for (let i = 0; i < requests.length; i++) {
    const item = requests[i];
    const path = `requests.${i}`;
    if (!isObject(item)) return `${path}: Input should be a valid dictionary`;
    const cid = item.custom_id;
    if (cid === undefined) return `${path}.custom_id: Field required`;
    if (typeof cid !== 'string') return `${path}.custom_id: Input should be a valid string`;
    if (cid.length === 0) return `${path}.custom_id: String should have at least 1 character`;
    if (cid.length > 64) return `${path}.custom_id: String should have at most 64 characters`;
    if (!CUSTOM_ID.test(cid)) return `${path}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
    if (item.params === undefined) return `${path}.params: Field required`;
    if (!isObject(item.params)) return `${path}.params: Input should be a valid dictionary`;
    const prev = seen.get(cid);
    if (prev !== undefined) {
      return `${path}.custom_id: duplicate custom_id '${cid}' (also used by requests.${prev}); custom_id must be unique within a Message Batch`;
    }
    seen.set(cid, i);
  }
  return { requests: requests as { custom_id: string; params: unknown }[] };
}

function parseJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(buf.toString('utf8')) };
  } catch (err) {
    return { ok: false, message: `Could not parse the request body as JSON: ${(err as Error).message}` };
  }
}

/** Creates the HTTP server; `shutdown()` cancels pending delays. */
export function createHttpServer(
  engine: Engine,
  settings: ServerSettings,
): { server: http.Server; shutdown(): void; log(): HttpLogEntry[] } {
  const log: HttpLogEntry[] = [];
  const sleepers = new Set<() => void>();
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  const baseUrlFor = (req: http.IncomingMessage) => {
    const host = header(req, 'host');
    return settings.wildcardHost && host ? `http://${host}` : engine.baseUrl;
  };

  function sendFault(res: http.ServerResponse, f: Extract<Fault, { kind: 'status' }>) {
    const type = f.errorType ?? errorTypeForStatus(f.status);
    const headers: Record<string, string> = {};
    const retryAfter = f.retryAfterSec ?? (f.status === 429 ? 1 : undefined);
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    if (f.shouldRetry !== undefined) headers['x-should-retry'] = String(f.shouldRetry);
    sendError(res, f.status, type, f.message ?? defaultErrorMessage(type), headers, f.errorCode);
  }

  const notFound = (res: http.ServerResponse, id: string) =>
    sendError(res, 404, 'not_found_error', `message_batch_id: no Message Batch found with id '${id}'`);

  /**
   * The batch a call names, once the endpoint's status fault had its say: undefined when that fault
   * or a 404 has answered.
   */
  function batchPastStatusFault(
    res: http.ServerResponse,
    endpoint: 'retrieve' | 'results' | 'cancel' | 'delete',
    id: string,
  ) {
    const fault = engine.takeFault(endpoint, ['status'] as const);
    setFault(res, fault?.id);
    if (fault) return void sendFault(res, fault);
    return liveBatch(res, id);
  }

  /**
   * The batch a retrieve or results call names, once its faults had their say: undefined when a
   * status fault, a 404 or the propagation-delay 404 has answered.
   */
  function batchPastFaults(res: http.ServerResponse, endpoint: 'retrieve' | 'results', id: string) {
    const b = batchPastStatusFault(res, endpoint, id);
    if (!b) return undefined;
    const nf = engine.takeFault(endpoint, ['not-found-after-create'] as const, b);
    setFault(res, nf?.id);
    if (nf) return void notFound(res, b.id);
    return b;
  }

  /** A live (non-deleted) batch, or a 404 already sent. */
  function liveBatch(res: http.ServerResponse, id: string): Batch | undefined {
    const b = engine.get(id);
    if (!b || b.deleted) {
      notFound(res, id);
      return undefined;
    }
    return b;
  }

  async function streamResults(res: http.ServerResponse, b: Batch, dropAfter: number | undefined) {
    engine.stats.resultStreams++;
    res.writeHead(200, { 'content-type': 'application/x-jsonl' });
    const order = engine.resultOrder(b);
    const count = dropAfter === undefined ? b.n : Math.max(0, Math.min(dropAfter, b.n));
    let buf = '';
    for (let k = 0; k < count; k++) {
      buf += `${engine.resultLine(b, order[k]!)}\n`;
      engine.stats.resultsServed++;
      if (buf.length >= STREAM_CHUNK_CHARS) {
        const flushed = res.write(buf);
        buf = '';
        if (!flushed) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
        if (res.destroyed) return;
      }
    }
    if (dropAfter === undefined) {
      res.end(buf);
      return;
    }
    // drop-stream fault: deliver what we have, then kill the socket without the terminating chunk.
    if (buf) res.write(buf, () => res.destroy());
    else {
      res.flushHeaders();
      await sleep(10);
      res.destroy();
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, r: Route) {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');

    // Bodies are read (or drained, past the limit) before anything is answered.
    let body: BodyResult | undefined;
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      const limit =
        r.endpoint === 'create'
          ? settings.maxBodyBytes
          : r.endpoint === 'messages'
            ? MESSAGES_BODY_LIMIT
            : OTHER_BODY_LIMIT;
      body = await readBody(req, limit);
      if (body.kind === 'aborted') {
        res.destroy();
        return;
      }
    } else {
      req.resume();
    }

    const cred = credential(req);
    if (cred.key === null) {
      return sendError(
        res,
        401,
        'authentication_error',
        'x-api-key header or Authorization: Bearer header is required',
      );
    }
    if (settings.apiKey !== undefined && !cred.candidates.includes(settings.apiKey)) {
      return sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    }
    if (!header(req, 'anthropic-version')) {
      return invalidRequest(res, 'anthropic-version: header is required');
    }
    if (r.endpoint === 'other') return sendError(res, r.status, errorTypeForStatus(r.status), r.message);
    if (body?.kind === 'too-large') {
      const limit = r.endpoint === 'create' ? settings.maxBodyBytes : MESSAGES_BODY_LIMIT;
      return sendError(
        res,
        413,
        'request_too_large',
        `Request exceeds the maximum allowed number of bytes (${limit}); received ${body.size}.`,
      );
    }

    switch (r.endpoint) {
      case 'create': {
        const fault = engine.takeFault('create', ['status', 'delay', 'create-then-fail'] as const);
        setFault(res, fault?.id);
        if (fault?.kind === 'status') return sendFault(res, fault);
        if (fault?.kind === 'delay') await sleep(fault.ms);
        const parsed = parseJson((body as { buf: Buffer }).buf);
        if (!parsed.ok) return invalidRequest(res, parsed.message);
        const env = validateEnvelope(parsed.value);
        if (typeof env === 'string') return invalidRequest(res, env);
        const full = engine.admit(env.requests.length);
        if (full) {
          const headers = { 'retry-after': String(full.retryAfterSec) };
          return sendError(res, 429, 'rate_limit_error', full.message, headers);
        }
        const b = engine.createBatch(env.requests);
        if (fault?.kind === 'create-then-fail') {
          const type = errorTypeForStatus(fault.status);
          return sendError(res, fault.status, type, defaultErrorMessage(type));
        }
        return sendJson(res, 200, engine.toJSON(b, baseUrlFor(req)));
      }
      case 'retrieve': {
        const b = batchPastFaults(res, 'retrieve', r.id!);
        if (!b) return;
        engine.tick(b, true);
        return sendJson(res, 200, engine.toJSON(b, baseUrlFor(req)));
      }
      case 'list': {
        const fault = engine.takeFault('list', ['status'] as const);
        setFault(res, fault?.id);
        if (fault) return sendFault(res, fault);
        const q = url.searchParams;
        let limit = 20;
        const rawLimit = q.get('limit');
        if (rawLimit !== null) {
          if (!/^-?\d+$/.test(rawLimit.trim())) {
            return invalidRequest(res, 'limit: Input should be a valid integer');
          }
          limit = Number(rawLimit);
          if (limit < 1) {
            return invalidRequest(res, 'limit: Input should be greater than or equal to 1');
          }
          if (limit > 1000) {
            return invalidRequest(res, 'limit: Input should be less than or equal to 1000');
          }
        }
        const afterId = q.get('after_id') ?? undefined;
        const beforeId = q.get('before_id') ?? undefined;
        if (afterId !== undefined && beforeId !== undefined) {
          return invalidRequest(res, 'Only one of before_id and after_id may be given.');
        }
        const page = engine.list(limit, afterId, beforeId);
        if (!page.ok) return sendError(res, page.status, page.type, page.message);
        const base = baseUrlFor(req);
        const data = page.value.data.map((b) => engine.toJSON(b, base));
        return sendJson(res, 200, {
          data,
          has_more: page.value.has_more,
          first_id: data[0]?.id ?? null,
          last_id: data[data.length - 1]?.id ?? null,
        });
      }
      case 'cancel': {
        const b = batchPastStatusFault(res, 'cancel', r.id!);
        if (!b) return;
        const out = engine.cancel(b);
        if (!out.ok) return sendError(res, out.status, out.type, out.message);
        return sendJson(res, 200, engine.toJSON(b, baseUrlFor(req)));
      }
      case 'delete': {
        const b = batchPastStatusFault(res, 'delete', r.id!);
        if (!b) return;
        engine.tick(b, false);
        if (b.status !== 'ended') {
          return invalidRequest(
            res,
            `Message Batch ${b.id} cannot be deleted while it is ${b.status === 'canceling' ? 'canceling' : 'in progress'}; only ended batches can be deleted (cancel it first).`,
          );
        }
        b.deleted = true;
        return sendJson(res, 200, { id: b.id, type: 'message_batch_deleted' });
      }
      case 'results': {
        const b = batchPastFaults(res, 'results', r.id!);
        if (!b) return;
        engine.tick(b, false);
        if (b.status !== 'ended') {
          return invalidRequest(
            res,
            `Message Batch ${b.id} has not finished processing (processing_status: ${b.status}); results are available once it has ended.`,
          );
        }
        if (b.archivedUs !== null) {
          return sendError(
            res,
            404,
            'not_found_error',
            `The results of Message Batch ${b.id} are no longer available: results are kept for 29 days after creation.`,
          );
        }
        const drop = engine.takeFault('results', ['drop-stream'] as const);
        setFault(res, drop?.id);
        return streamResults(res, b, drop?.afterLines);
      }
      case 'messages': {
        const fault = engine.takeFault('messages', ['status'] as const);
        setFault(res, fault?.id);
        if (fault) return sendFault(res, fault);
        const parsed = parseJson((body as { buf: Buffer }).buf);
        if (!parsed.ok) return invalidRequest(res, parsed.message);
        const out = engine.realtimeMessage(parsed.value);
        if (!out.ok) return sendError(res, out.status, out.type, out.message);
        return sendJson(res, 200, out.value);
      }
    }
  }

  const faultOf = new WeakMap<http.ServerResponse, string>();
  function setFault(res: http.ServerResponse, id: string | undefined) {
    if (id) faultOf.set(res, id);
  }

  const server = http.createServer((req, res) => {
    const requestId = randomId('req_');
    res.setHeader('request-id', requestId);
    res.setHeader('anthropic-organization-id', ORGANIZATION_ID);
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const r = route(method, path);
    engine.stats.httpRequests++;
    engine.stats.calls[r.endpoint]++;
    if (r.endpoint === 'create') engine.stats.createCalls++;
    const retryHeader = header(req, 'x-stainless-retry-count');
    const entry: HttpLogEntry = {
      at: Date.now(),
      method,
      path,
      endpoint: r.endpoint,
      status: 0,
      retryCount: retryHeader === undefined || Number.isNaN(Number(retryHeader)) ? null : Number(retryHeader),
      requestId,
      fault: null,
    };
    res.on('close', () => {
      entry.status = res.statusCode;
      entry.fault = faultOf.get(res) ?? null;
      log.push(entry);
      if (log.length > LOG_SIZE) log.splice(0, log.length - LOG_SIZE);
    });
    handle(req, res, r).catch((err: unknown) => {
      if (!settings.quiet) console.error('[emulator] internal error:', err);
      if (!res.headersSent) sendError(res, 500, 'api_error', 'Internal server error');
      else res.destroy();
    });
  });
  // Keep idle keep-alive sockets longer than undici's 4 s client default, so a reused socket is never
  // closed under a request (which the SDK would retry as a connection error).
  server.keepAliveTimeout = 65_000;

  return {
    server,
    shutdown() {
      closed = true;
      for (const wake of [...sleepers]) wake();
    },
    log: () => log.slice(),
  };
}
