import { requestJsonSchema } from '@nightshift/producer';
import { WEBHOOK_EVENTS } from '@nightshift/shared';
import { z } from 'zod';
import { ERROR_CODES } from './errors.js';

/**
 * The schemas of the answers, in zod like the request's (whose JSON Schema the producer generates
 * from the schema it validates with). Only documentation: the API builds these answers itself.
 */
const state = z.enum(['queued', 'claimed', 'realtime', 'succeeded', 'dead', 'canceled']);
const enqueueResult = z.object({
  customId: z.string(),
  outcome: z.enum(['queued', 'exists', 'replaced', 'realtime']),
  state,
});
const answers = {
  EnqueueResult: enqueueResult,
  EnqueueResults: z.object({ results: z.array(enqueueResult) }),
  RequestStatus: z.object({
    customId: z.string(),
    state: z.enum([
      'queued',
      'retrying',
      'submitting',
      'in_batch',
      'realtime',
      'succeeded',
      'dead',
      'canceled',
    ]),
    feature: z.string(),
    partition: z.string(),
    model: z.string(),
    attempt: z.number().int(),
    enqueuedAt: z.number().int().meta({ description: 'ms since the epoch' }),
    batchId: z.string().optional(),
    batchStatus: z.string().optional(),
    readyAt: z.number().int().optional(),
    deadline: z.number().int().optional(),
    reason: z.string().optional(),
    lastError: z.object({ type: z.string(), message: z.string() }).nullable().optional(),
    history: z.array(z.object({}).loose()),
    completedAt: z.number().int().optional(),
    costUsd: z.number().optional().meta({ description: 'for succeeded: what the result cost' }),
    compacted: z.literal(true).optional().meta({
      description:
        'succeeded and delivered: the record keeps state, attempt, batchId, completedAt and costUsd only (feature, model and partition read empty, enqueuedAt 0)',
    }),
  }),
  Canceled: z.object({ customId: z.string(), state: z.literal('canceled'), alreadyCanceled: z.boolean() }),
  FeatureProgress: z.object({
    feature: z.string(),
    open: z.number().int(),
    enqueued: z.number().int(),
    succeeded: z.number().int(),
    dead: z.number().int(),
    canceled: z.number().int(),
    pendingMarks: z.array(
      z.object({ markId: z.string(), markedAt: z.number().int(), remaining: z.number().int() }),
    ),
  }),
  DrainMark: z.object({
    markId: z.string(),
    feature: z.string(),
    markedAt: z.string().meta({ format: 'date-time' }),
    drained: z.boolean(),
    drainedAt: z.string().optional(),
    remaining: z.number().int().optional(),
  }),
  Error: z.object({
    error: z
      .object({
        code: z.enum(ERROR_CODES),
        message: z.string(),
        issues: z
          .array(
            z.object({
              index: z.number().int().optional().meta({ description: 'the request’s index in a batch body' }),
              field: z.string().meta({ examples: ['params.max_tokens'] }),
              message: z.string(),
            }),
          )
          .optional(),
      })
      .loose(),
  }),
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), json('Error', 'An error; `error.code` is stable.')]));
const idParam = {
  name: 'customId',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
};
const featureParam = {
  name: 'feature',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
};

/** The OpenAPI 3.1 document served at `/openapi.json`. */
export function openApiDocument(limits: {
  maxItems: number;
  bodyLimitBytes: number;
}): Record<string, unknown> {
  const request = requestJsonSchema() as { $defs: Record<string, unknown> };
  const schemas: Record<string, unknown> = JSON.parse(
    JSON.stringify(request.$defs).replaceAll('"#/$defs/', '"#/components/schemas/'),
  );
  for (const [name, schema] of Object.entries(answers)) {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'output' }) as Record<string, unknown>;
    schemas[name] = rest;
  }
  schemas.EnqueueBatch = {
    type: 'object',
    properties: { requests: { type: 'array', items: ref('EnqueueRequest'), maxItems: limits.maxItems } },
    required: ['requests'],
    additionalProperties: false,
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Nightshift HTTP API',
      version: '1',
      description:
        'Enqueue work for the Message Batches API (half price) from any language; results come back as signed webhooks ' +
        `(Standard Webhooks; events ${WEBHOOK_EVENTS.join(', ')}). Bodies up to ${limits.bodyLimitBytes} bytes.`,
    },
    servers: [{ url: '/' }],
    security: [{ token: [] }],
    components: {
      securitySchemes: {
        token: { type: 'http', scheme: 'bearer', description: 'A token from `nightshift api-token create`.' },
      },
      schemas,
    },
    paths: {
      '/v1/requests': {
        post: {
          operationId: 'enqueue',
          summary: 'Enqueue one request or many, all or nothing',
          description:
            'Validation, idempotency (same custom_id and params: `exists`), conflicts and deadlines as the producer’s ' +
            '`enqueueMany`: one bad item, a conflict, a too-soon deadline or a budget refusal (402 `budget_exceeded`) anywhere and nothing is written.',
          parameters: [
            {
              name: 'replace',
              in: 'query',
              schema: { type: 'boolean' },
              description:
                'Replace a request with the same custom_id that is still only queued (or re-open a canceled one).',
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { oneOf: [ref('EnqueueRequest'), ref('EnqueueBatch')] } },
            },
          },
          responses: {
            '202': {
              description:
                'Accepted: one result per request, in input order (one object for a one-request body).',
              content: {
                'application/json': { schema: { oneOf: [ref('EnqueueResult'), ref('EnqueueResults')] } },
              },
            },
            ...errors(400, 401, 402, 403, 409, 413, 415, 422, 429, 503),
          },
        },
      },
      '/v1/requests/{customId}': {
        parameters: [idParam],
        get: {
          operationId: 'getStatus',
          summary: 'Where a request is',
          responses: { '200': json('RequestStatus', 'The status.'), ...errors(400, 401, 404, 429) },
        },
        delete: {
          operationId: 'cancel',
          summary: 'Cancel a request that is still queued',
          responses: {
            '200': json('Canceled', 'Canceled (or already was).'),
            ...errors(400, 401, 404, 409, 429),
          },
        },
      },
      '/v1/features/{feature}/progress': {
        parameters: [featureParam],
        get: {
          operationId: 'featureProgress',
          summary: 'Requests of a feature not final yet, outcomes, pending drain marks',
          responses: { '200': json('FeatureProgress', 'The counts.'), ...errors(400, 401, 403, 429) },
        },
      },
      '/v1/features/{feature}/drain': {
        parameters: [featureParam],
        post: {
          operationId: 'markDrain',
          summary: 'Take a drain mark: feature.drained fires once every request enqueued before it is final',
          responses: { '202': json('DrainMark', 'The mark.'), ...errors(400, 401, 403, 429) },
        },
      },
      '/v1/features/{feature}/drain/{markId}': {
        parameters: [
          featureParam,
          { name: 'markId', in: 'path', required: true, schema: { type: 'string' } },
        ],
        get: {
          operationId: 'getDrainMark',
          summary: 'Whether a drain mark has drained',
          responses: { '200': json('DrainMark', 'The mark.'), ...errors(400, 401, 403, 404, 429) },
        },
      },
    },
  };
}
