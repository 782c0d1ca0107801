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

let n = 0;
/** A prefix no other test of the file uses. */
export const uniquePrefix = () => `t${process.pid}x${++n}`;

import type { Message } from '@nightshift/shared';

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
