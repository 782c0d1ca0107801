export type { AdmissionRecord, InFlight } from './admission.js';
export { ApiTokens, hashToken, scopeAllows } from './api-tokens.js';
export type { BackoffState } from './backoff.js';
export {
  type BoardCounts,
  type BoardRequest,
  type BoardState,
  boardCounts,
  boardPage,
  boardRequests,
  deadLetterCustomId,
  delayedIds,
  promoteRequests,
} from './board-requests.js';
export type { BudgetCheckItem, BudgetRefusal, BudgetUsage, StoredBudget } from './budgets.js';
export {
  type ConnectionSettings,
  connectionFromEnv,
  createRedis,
  DEFAULT_SENTINEL_MASTER,
  describeRedis,
  logRedisErrors,
  type RedisClient,
  splitList,
} from './connection.js';
export { type CostFigures, type CostReport, costReport } from './cost-report.js';
export { type DrainMark, drainMarkById, type FeatureProgress, type PendingMark } from './drain.js';
export { EventOutbox, type OutboxEvent } from './events.js';
export { FlushLock } from './flush-lock.js';
export { type JobWithin, jobIdsIn, missingJobIds, readJobsWithin } from './jobs-within.js';
export {
  assertReadableLayout,
  type LayoutInfo,
  type MigrationReport,
  OLDEST_READABLE_LAYOUT,
  STORE_LAYOUT,
  StoreLayoutError,
} from './layout.js';
export { type LedgerRow, utcDay } from './ledger.js';
export { ModelAlerts } from './model-alerts.js';
export type { ApplyItem } from './outcomes.js';
export {
  addDeadLetters,
  addTrackingJob,
  awaitsRealtimeApply,
  type DeadLetterSource,
  type Death,
  deadLetterPayload,
  defaultJobOptions,
  deliverResults,
  ensureTrackingJobs,
  openQueue,
  type ResultJob,
  resultsInJob,
  type TrackedBatch,
  trackingJobData,
} from './queues.js';
export { isCompacted, sameParams } from './record-fields.js';
export type { EnqueueItem } from './records.js';
export {
  type ApplyResult,
  type CancelResult,
  codeText,
  type EnqueueResult,
  type PromoteResult,
  type RetryDeadResult,
} from './replies.js';
export { Store } from './store.js';
export type { CommitCode, SubmissionFields } from './submissions.js';
export { buildSuccess } from './success.js';
export {
  type FailedDelivery,
  failedDeliveries,
  failedPerEndpoint,
  replayDeliveries,
} from './webhook-deliveries.js';
export {
  checkEndpoint,
  type EndpointInput,
  newWebhookSecret,
  resultsWantedByWebhooks,
  WebhookEndpoints,
} from './webhook-endpoints.js';
