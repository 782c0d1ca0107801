export {
  type ApiErrorFamily,
  type ApiFailure,
  assertNever,
  type CircuitKind,
  type CircuitOpening,
  CODE_DECISIONS,
  CODES_NOT_ON_OUR_ENDPOINTS,
  type CodeDecision,
  circuitFor,
  classifyApiError,
  classifyResultError,
  defaultFamily,
  describeFailure,
  failureName,
  fixFor,
  type ResultError,
  realtimeAction,
} from './api-errors.js';
export { API_MAX_BYTES, API_MAX_REQUESTS, BATCH_WINDOW_MS, RESULTS_ARCHIVE_MS } from './api-limits.js';
export {
  type Budget,
  BudgetExceededError,
  type BudgetMode,
  type BudgetPeriod,
  budgetCovers,
  budgetId,
  budgetSchema,
  budgetWindow,
  budgetWindowEnd,
  parseBudgetAmount,
  parseBudgetsFile,
} from './budgets.js';
export { closeOnce } from './close-once.js';
export {
  CIRCUIT_DEFAULTS,
  type Config,
  type Env,
  loadConfig,
  MIN_BOARD_SECRET_LENGTH,
  renderConfigTable,
  SETTINGS,
  weakSecretReason,
} from './config.js';
export {
  CUSTOM_ID_PATTERN,
  deriveCustomId,
  illFormedKey,
  loneSurrogateAt,
  MODEL_ID_PATTERN,
} from './custom-id.js';
export { safeEmit } from './emit.js';
export {
  ConfigError,
  ConflictError,
  DeadlineTooSoonError,
  type ErrorCode,
  type FieldIssue,
  ModelRetiredError,
  NightshiftError,
  type RetiredModel,
  ValidationError,
} from './errors.js';
export { boundHeapGrowth } from './heap.js';
export { canonicalJson, findNonJson, parseJson, sha256Hex } from './json.js';
export {
  apiRateLimitPrefix,
  boardLoginPrefix,
  DEFAULT_PREFIX,
  jobIds,
  QUEUE_LABELS,
  QUEUES,
  type QueueRole,
} from './keys.js';
export { createLogger, type Logger } from './log.js';
export { hostGuard, isLoopbackAddress, listenHttp } from './net.js';
export {
  BATCH_DISCOUNT,
  checkPriceTable,
  costOf,
  DEFAULT_PRICES,
  estimateCost,
  fromNano,
  LIFECYCLE_AS_OF,
  type ModelLifecycle,
  type ModelPrice,
  mergePriceTables,
  modelLifecycle,
  PRICING_AS_OF,
  type PriceTable,
  priceFor,
  type TierPrices,
  tokensFromUsage,
  toNano,
  US_INFERENCE_MULTIPLIER,
} from './pricing.js';
export {
  REDACTED,
  type RedactedError,
  redactError,
  redactedCopy,
  redactUrls,
} from './redact.js';
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
