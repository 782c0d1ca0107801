/**
 * The one schema of a request to enqueue, in zod: the producer validates every request with it, and
 * the HTTP API's OpenAPI document is generated from it (`requestJsonSchema`), so the rules exist
 * once. What a schema cannot say (exactly one of customId and key, JSON-only values, sizes after
 * serialization, model routing) is checked in validate.ts, with the same field paths.
 */
import {
  CUSTOM_ID_PATTERN,
  illFormedKey,
  loneSurrogateAt,
  MODEL_ID_PATTERN,
  NAME_PATTERN,
} from '@nightshift/shared';
import { z } from 'zod';

/** feature and partition: safe in ledger fields, metric labels and key names. */
export const TAG_PATTERN = NAME_PATTERN;
/** At most this many webhook endpoints per request. */
const MAX_NOTIFY = 5;
/** The most `max_tokens` the Batches API takes (with its extended-output beta, batch only). */
const MAX_TOKENS_LIMIT = 300_000;
/** The largest time `Date` can hold, ms either side of the epoch. */
const MAX_DATE_MS = 8.64e15;

type Issue = { input?: unknown };
const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);
/** A zod error option that says what was given. */
const got = (message: string) => (iss: Issue) => `${message}; got ${describe(iss.input)}`;
const err = (message: string) => ({ error: message });
/** A string of the given syntax; the one message names the field both when it is no string and when it does not match. */
const matching = (pattern: RegExp, message: string) => z.string(err(message)).regex(pattern, err(message));

/** temperature, top_p and top_k were removed in API version 2026-10-21 (SDK 1.x): the API rejects them. */
const removed = z
  .undefined(err('was removed in API version 2026-10-21 (SDK 1.x) and is rejected; remove it'))
  .optional();

const MODEL = 'must be a model id such as "claude-haiku-4-5": 1–64 of A-Z a-z 0-9 . _ -';
const MAX_TOKENS = `must be an integer from 1 to ${MAX_TOKENS_LIMIT} (0, cache pre-warming, is not allowed in batches; ${MAX_TOKENS_LIMIT} is the most the Batches API takes)`;
const MESSAGES = 'must be a non-empty array of { role, content }';
const BLOCKS = 'must be a string or an array of content blocks';

const message = z.looseObject(
  {
    role: z.enum(
      ['user', 'assistant'],
      err("must be 'user' or 'assistant' (the system prompt goes in params.system)"),
    ),
    content: z.union([z.string(), z.array(z.unknown())], err(BLOCKS)),
  },
  err('must be an object { role, content }'),
);

/**
 * The Messages params, exactly as for `client.messages.create` (non-streaming): the checks the
 * Batches API would only report hours later, as an errored result. Other fields pass through to
 * the API as given.
 */
export const messageParamsSchema = z
  .looseObject(
    {
      model: matching(MODEL_ID_PATTERN, MODEL).meta({ examples: ['claude-haiku-4-5'] }),
      max_tokens: z
        .number(err(MAX_TOKENS))
        .int(err(MAX_TOKENS))
        .min(1, err(MAX_TOKENS))
        .max(MAX_TOKENS_LIMIT, err(MAX_TOKENS)),
      messages: z.array(message, err(MESSAGES)).min(1, err(MESSAGES)),
      stream: z.literal(false, err('batches are not streamed; remove stream')).optional(),
      temperature: removed,
      top_p: removed,
      top_k: removed,
      system: z
        .union([z.string(), z.array(z.unknown())], err('must be a string or an array of text blocks'))
        .optional(),
      tools: z.array(z.unknown(), err('must be an array of tools')).optional(),
    },
    { error: got('must be the Messages params object (model, max_tokens, messages)') },
  )
  .meta({
    id: 'MessageParams',
    description: 'Messages API params (non-streaming), sent to the API as given.',
  });

const DEADLINE = 'must be a valid Date, ms since the epoch, or an ISO-8601 string';
const TAG = '1–64 characters of A-Z a-z 0-9 _ . -';
const FEATURE = `is required: ${TAG} (e.g. "classify-docs")`;
const PARTITION = `must be ${TAG} (or omitted for "default")`;
const CUSTOM_ID = 'must be 1–64 characters of A-Z a-z 0-9 _ - (or pass key and let it be derived)';
const KEY = (iss: Issue) =>
  `must be a non-empty string (got ${describe(iss.input)}); use String(id) for numbers`;
const NOTIFY = `must be a list of 1–${MAX_NOTIFY} webhook endpoint names (${TAG}) registered by an operator`;

/**
 * One request to enqueue. Unknown fields are refused (a typo would otherwise be silently lost);
 * one left `undefined` is harmless, as in JSON.
 */
export const enqueueRequestSchema = z
  .object(
    {
      feature: matching(TAG_PATTERN, FEATURE).meta({
        description: 'A tag for cost accounting.',
        examples: ['classify-docs'],
      }),
      customId: matching(CUSTOM_ID_PATTERN, CUSTOM_ID)
        .optional()
        .meta({ description: 'An explicit custom_id. Give exactly one of customId and key.' }),
      key: z
        .string({ error: KEY })
        .min(1, { error: KEY })
        // A lone surrogate has no UTF-8 form: two such keys would derive the same custom_id.
        .refine((k) => loneSurrogateAt(k) < 0, {
          error: (iss) => illFormedKey(loneSurrogateAt(iss.input as string)),
        })
        .optional()
        .meta({
          description:
            'A stable source key (e.g. a document id); the custom_id is derived from feature and key. Give exactly one of customId and key.',
        }),
      deadline: z
        .union(
          [
            z.date(),
            z.number().min(-MAX_DATE_MS, err(DEADLINE)).max(MAX_DATE_MS, err(DEADLINE)),
            z.string().refine((s) => Number.isFinite(Date.parse(s)), err(DEADLINE)),
          ],
          err(DEADLINE),
        )
        .nullable()
        .optional()
        .meta({
          description:
            'When the result is needed by: ms since the epoch or an ISO-8601 string, at most 366 days ahead.',
        }),
      metadata: z
        .unknown()
        .optional()
        .meta({ description: 'Small JSON (≤ 16 KiB serialized) returned with the result.' }),
      partition: matching(TAG_PATTERN, PARTITION)
        .optional()
        .meta({ description: 'Tenant / workspace tag; different partitions never share a batch.' }),
      realtime: z
        .enum(
          ['never', 'fallback'],
          err("must be 'never' or 'fallback' (or omitted for the producer's default)"),
        )
        .optional()
        .meta({ description: 'What to do when the deadline is too soon for a batch.' }),
      notify: z
        .array(matching(TAG_PATTERN, NOTIFY), err(NOTIFY))
        .min(1, err(NOTIFY))
        .max(MAX_NOTIFY, err(NOTIFY))
        .optional()
        .meta({
          description:
            'Webhook endpoints (by name, registered by an operator) to notify of this request’s events. Never a URL.',
        }),
      params: messageParamsSchema,
    },
    { error: got('must be an object with params, feature and customId or key') },
  )
  .catchall(
    z.undefined({
      error: (iss) =>
        (iss as { path?: PropertyKey[] }).path?.at(-1) === 'custom_id'
          ? 'unknown field; did you mean customId?'
          : 'unknown field; remove it',
    }),
  )
  .meta({ id: 'EnqueueRequest' });

/** `params.messages[0].role` from zod's path. */
export function fieldOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || 'request';
}

/**
 * The JSON Schema (2020-12, as OpenAPI 3.1 uses) of a request to enqueue, generated from the zod
 * schema: what HTTP clients send. A Date deadline is an ISO-8601 string on the wire.
 */
export function requestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(enqueueRequestSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const type = (ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def.type;
      if (type === 'date') Object.assign(ctx.jsonSchema, { type: 'string', format: 'date-time' });
      // A field that must be absent (a removed param, any unknown field).
      if (type === 'undefined') Object.assign(ctx.jsonSchema, { not: {} });
    },
  }) as Record<string, unknown>;
}
