import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { type Emulator, type Fault, type FaultEndpoint, startEmulator } from '../src/index.js';

export const MODEL = 'claude-haiku-4-5';
const RFC3339_US = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

type BatchRequest = Anthropic.Messages.BatchCreateParams.Request;
type MessageBatch = Anthropic.Messages.MessageBatch;
type Results = Awaited<ReturnType<Anthropic['messages']['batches']['results']>>;
export type ResultLine = Anthropic.Messages.MessageBatchIndividualResponse;
/** An SDK APIError instance. */
export type ApiError = InstanceType<typeof Anthropic.APIError>;

/** An SDK client pointed at the emulator. */
export function sdk(emu: Emulator, opts: ConstructorParameters<typeof Anthropic>[0] = {}): Anthropic {
  return new Anthropic({ apiKey: 'test-key', baseURL: emu.url, maxRetries: 2, ...opts });
}

/** A small valid batch request. */
export function req(
  customId: string,
  text = `Say hello to ${customId}.`,
  extra: Record<string, unknown> = {},
) {
  return {
    custom_id: customId,
    params: { model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: text }], ...extra },
  } as BatchRequest;
}

/** A batch request with arbitrary (possibly invalid) params. */
export function rawReq(customId: string, params: Record<string, unknown>): BatchRequest {
  return { custom_id: customId, params } as unknown as BatchRequest;
}

type StatusFault = Extract<Fault, { kind: 'status' }>;
/** An HTTP-level fault: `endpoint` answers `status`; `more` sets retry-after, times, error code, … */
export function statusFault(
  endpoint: FaultEndpoint,
  status: StatusFault['status'],
  more: Omit<StatusFault, 'endpoint' | 'kind' | 'status'> = {},
): StatusFault {
  return { endpoint, kind: 'status', status, ...more };
}

/** Reads a results decoder to the end. */
export async function collect(decoder: Results): Promise<ResultLine[]> {
  const out: ResultLine[] = [];
  for await (const line of decoder) out.push(line);
  return out;
}

/** Asserts that `obj` has exactly the fields `names`, in any order. */
function expectFields(obj: object, names: string[]): void {
  expect(Object.keys(obj).sort()).toEqual([...names].sort());
}

/** Asserts every MessageBatch field, its type and nullability for the given state. */
export function expectBatchShape(
  b: MessageBatch,
  status: 'in_progress' | 'canceling' | 'ended',
  opts: { total: number; url: string; canceled?: boolean; archived?: boolean },
): void {
  const at = expect.stringMatching(RFC3339_US);
  const ended = status === 'ended';
  // Every field and nothing else (toStrictEqual: a field left undefined is one too many).
  expect(b).toStrictEqual({
    id: expect.stringMatching(/^msgbatch_[0-9A-Za-z]{24}$/),
    type: 'message_batch',
    processing_status: status,
    created_at: at,
    expires_at: at,
    ended_at: ended ? at : null,
    cancel_initiated_at: opts.canceled ? at : null,
    archived_at: opts.archived ? at : null,
    results_url: ended ? `${opts.url}/v1/messages/batches/${b.id}/results` : null,
    request_counts: expect.any(Object),
  });
  expect(Date.parse(b.expires_at) - Date.parse(b.created_at)).toBe(24 * 3600 * 1000);
  expect(b.expires_at.slice(-8)).toBe(b.created_at.slice(-8)); // same microseconds
  const c = b.request_counts;
  expectFields(c, ['canceled', 'errored', 'expired', 'processing', 'succeeded']);
  for (const v of Object.values(c)) expect(Number.isInteger(v)).toBe(true);
  expect(c.processing + c.succeeded + c.errored + c.canceled + c.expired).toBe(opts.total);
  if (ended) expect(c.processing).toBe(0);
  else expect(c).toEqual({ processing: opts.total, succeeded: 0, errored: 0, canceled: 0, expired: 0 });
}

/** Asserts the full 1.x Message shape of a succeeded result. */
export function expectMessageShape(
  m: Anthropic.Messages.Message,
  tier: 'batch' | 'standard' = 'batch',
): void {
  expectFields(m, [
    'container',
    'content',
    'diagnostics',
    'id',
    'model',
    'role',
    'stop_details',
    'stop_reason',
    'stop_sequence',
    'type',
    'usage',
  ]);
  expect(m).toMatchObject({
    id: expect.stringMatching(/^msg_[0-9A-Za-z]{24}$/),
    type: 'message',
    role: 'assistant',
    container: null,
    diagnostics: null,
    stop_details: null,
  });
  expect(['end_turn', 'max_tokens', 'stop_sequence']).toContain(m.stop_reason);
  const u = m.usage;
  expectFields(u, [
    'cache_creation',
    'cache_creation_input_tokens',
    'cache_read_input_tokens',
    'inference_geo',
    'input_tokens',
    'output_tokens',
    'output_tokens_details',
    'server_tool_use',
    'service_tier',
    'speed',
  ]);
  expect(u.input_tokens).toBeGreaterThanOrEqual(0);
  expect(u.output_tokens).toBeGreaterThan(0);
  expect(typeof u.cache_creation_input_tokens).toBe('number');
  expect(typeof u.cache_read_input_tokens).toBe('number');
  expect(u.cache_creation).toEqual({
    ephemeral_5m_input_tokens: expect.any(Number),
    ephemeral_1h_input_tokens: expect.any(Number),
  });
  expect(u.output_tokens_details).toBeNull();
  expect(u.server_tool_use).toBeNull();
  expect(u.service_tier).toBe(tier);
  expect(u.inference_geo).toBeNull();
  expect(u.speed).toBeNull();
  const block = m.content[0];
  expect(block?.type).toBe('text');
}

/** Raw HTTP helper (for things the SDK cannot do, e.g. `x-api-key` auth). */
export async function raw(
  emu: Emulator,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field in tests
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const res = await fetch(`${emu.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'x-api-key': 'test-key',
      'anthropic-version': '2026-10-21',
      'content-type': 'application/json',
      ...init.headers,
    },
    body:
      init.body === undefined
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : JSON.stringify(init.body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** The emulator of a test file and an SDK client of it; read the fields inside tests and hooks. */
export interface EmulatorFixture {
  readonly emu: Emulator;
  readonly client: Anthropic;
}

/**
 * Starts a quiet emulator and an SDK client of it before the file's tests (`'all'`) or before each
 * test (`'each'`, a fresh one: faults and clocks do not leak), and closes it after.
 */
export function useEmulator(per: 'all' | 'each'): EmulatorFixture {
  let emu: Emulator | undefined;
  let client: Anthropic | undefined;
  const start = async () => {
    emu = await startEmulator({ quiet: true });
    client = sdk(emu);
  };
  const stop = () => emu?.close();
  if (per === 'all') {
    beforeAll(start);
    afterAll(stop);
  } else {
    beforeEach(start);
    afterEach(stop);
  }
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the emulator is ready only inside tests and hooks');
    return value;
  };
  return {
    get emu() {
      return ready(emu);
    },
    get client() {
      return ready(client);
    },
  };
}
