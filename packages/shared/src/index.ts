export { type Config, type Env, loadConfig, renderConfigTable, SETTINGS } from './config.js';
export { CUSTOM_ID_PATTERN, deriveCustomId } from './custom-id.js';
export {
  ConfigError,
  ConflictError,
  DeadlineTooSoonError,
  type ErrorCode,
  type FieldIssue,
  NightshiftError,
  ValidationError,
} from './errors.js';
export { canonicalJson, findNonJson, sha256Hex } from './json.js';
export {
  apiRateLimitPrefix,
  DEFAULT_PREFIX,
  jobIds,
  QUEUE_LABELS,
  QUEUES,
  type QueueRole,
  type StoreKeys,
  storeKeys,
} from './keys.js';
export { createLogger, type Logger } from './log.js';
export { hostOfHeader, isLoopbackAddress, listenHttp } from './net.js';
export {
  BATCH_DISCOUNT,
  checkPriceTable,
  costOf,
  DEFAULT_PRICES,
  fromNano,
  type ModelPrice,
  PRICING_AS_OF,
  type PriceTable,
  priceFor,
  tokensFromUsage,
  toNano,
} from './pricing.js';
export type * from './types.js';
export {
  type ApiTokenRecord,
  type DeliveryJobData,
  NAME_PATTERN,
  type TokenScope,
  WEBHOOK_EVENTS,
  type WebhookData,
  type WebhookEndpoint,
  type WebhookEndpointView,
  type WebhookEnvelope,
  type WebhookEventType,
} from './webhooks.js';
