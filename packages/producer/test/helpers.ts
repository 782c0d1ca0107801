import { DEFAULT_PRICES, type Message, type ResultPayload } from '@nightshift/shared';
import { buildSuccess, type EnqueueItem } from '@nightshift/store';
import { queuedItem } from '@nightshift/testing';
import type { EnqueueRequest } from '../src/index.js';

export const MODEL = 'claude-haiku-4-5';

/** A valid request for document `i`; `over` replaces top-level fields. */
export function docRequest(i: number | string, over: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return {
    feature: 'classify-docs',
    key: `doc-${i}`,
    params: {
      model: MODEL,
      max_tokens: 16,
      system: 'You classify documents. Labels: invoice, contract, other',
      messages: [{ role: 'user', content: `Document ${i}: please classify.` }],
    },
    metadata: { docId: String(i) },
    ...over,
  };
}

/** A succeeded Message as the API (and the emulator) returns it. */
export function fakeMessage(text: string, model = MODEL): Message {
  return {
    id: 'msg_test',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text, citations: null }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: 1000,
      output_tokens: 10,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      service_tier: 'batch',
    },
  } as unknown as Message;
}

/** A result exactly as the collector writes it: buildSuccess → deliverResults. */
export function collectorResult(customId: string, text: string): ResultPayload {
  return buildSuccess({
    customId,
    feature: 'classify-docs',
    metadata: { docId: customId, __proto__: 'kept as data' },
    model: 'claude-haiku-4-5',
    message: fakeMessage(text),
    mode: 'batch',
    batchId: 'msgbatch_r1',
    attempt: 1,
    prices: DEFAULT_PRICES,
  }).payload;
}

/** A request record as the producer writes it, in a given state. */
export function record(cid: string, state: 'queued' | 'realtime'): EnqueueItem {
  return queuedItem(cid, {
    feature: 'classify-docs',
    phash: cid,
    group: 'g',
    bytes: 2,
    realtimeAllowed: state === 'realtime',
    state,
  });
}

/** The apply item of a success of `cid` whose delivery is job `delivery`. */
export function success(cid: string, delivery: string) {
  const { item } = buildSuccess({
    customId: cid,
    feature: 'classify-docs',
    metadata: null,
    model: 'claude-haiku-4-5',
    message: fakeMessage('x'),
    mode: 'batch',
    batchId: 'b1',
    attempt: 1,
    prices: DEFAULT_PRICES,
  });
  return { ...item, delivery };
}
