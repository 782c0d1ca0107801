export { type Batcher, startBatcher } from './batcher.js';
export type { BatcherEvents, FlushReport, FlushStop, SubmittedBatch } from './events.js';
export {
  API_MAX_BYTES,
  API_MAX_REQUESTS,
  type BatcherOptions,
  batcherOptionsFromConfig,
  type TestOnlyHooks,
} from './options.js';
