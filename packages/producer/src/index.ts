/**
 * `@nightshift/producer`: what a service imports to send work that no human waits on to Anthropic's
 * Message Batches API (half price), and to receive the results.
 */
export {
  BudgetExceededError,
  ConflictError,
  DeadlineTooSoonError,
  type FieldIssue,
  ModelRetiredError,
  NightshiftError,
  type RequestStatus,
  type ResultPayload,
  type RetiredModel,
  ValidationError,
} from '@nightshift/shared';
export { createProducer } from './producer.js';
export { createResultWorker } from './result-worker.js';
export { enqueueRequestSchema, messageParamsSchema, requestJsonSchema } from './schema.js';
export type {
  BulkEnqueueResult,
  CancelResult,
  EnqueueOptions,
  EnqueueOutcome,
  EnqueueRequest,
  EnqueueResult,
  Producer,
  ProducerOptions,
  RealtimeChoice,
  RedisTopologyOptions,
  ResultEvent,
  ResultWorker,
  ResultWorkerOptions,
} from './types.js';
