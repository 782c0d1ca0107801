export {
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
  DEFAULT_PREFIX,
  jobIds,
  QUEUE_LABELS,
  QUEUES,
  type QueueRole,
  type StoreKeys,
  storeKeys,
} from './keys.js';
export { createLogger, type Logger } from './log.js';
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
export {
  REDACTED,
  type RedactedError,
  redactError,
  redactedCopy,
  redactUrls,
} from './redact.js';
export type * from './types.js';
