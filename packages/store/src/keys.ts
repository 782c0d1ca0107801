/**
 * Every key of our own store is built here, nowhere else: no package but @nightshift/store sends
 * a command to them. They all share the hash tag `{req}`, because Lua scripts touch many of them
 * at once (on a Redis Cluster the whole store lives in one slot). Queue names and the rate
 * limiters' prefixes are in @nightshift/shared (keys.ts).
 */

import { DEFAULT_PREFIX } from '@nightshift/shared';

/** Builds the keys of our own store. All share the hash tag `{req}`. */
export function storeKeys(prefix: string = DEFAULT_PREFIX) {
  const base = `${prefix}:{req}`;
  return {
    base,
    /** HASH `version` → the store's layout version (layout.ts): a process checks it before its first script. */
    layout: `${base}:layout`,
    /** HASH: one request record (see RequestRecord). */
    record: (customId: string) => `${base}:rec:${customId}`,
    /**
     * STRING: the request's Messages params (JSON), apart from its record so the record's small
     * fields stay a compact listpack; deleted once the request succeeded.
     */
    params: (customId: string) => `${base}:params:${customId}`,
    /** ZSET cid → ready-at ms: queued requests of one group (same partition + cache prefix). */
    pending: (group: string) => `${base}:pending:${group}`,
    /** ZSET group → oldest ready-at ms among its queued requests. */
    groups: `${base}:groups`,
    /** HASH group → partition. */
    groupPartition: `${base}:group-partition`,
    /** HASH partition → queued count / bytes (two hashes). */
    partitionCount: `${base}:partition-count`,
    partitionBytes: `${base}:partition-bytes`,
    /** ZSET cid → deadline ms, for queued requests that have one. */
    deadlines: `${base}:deadlines`,
    /**
     * ZSET cid → ready-at ms: queued requests put back with a ready time in the future (retry
     * backoff, create backoff), for Bull Board's "delayed"; entries at or before now read as waiting.
     */
    delayed: `${base}:delayed`,
    /** HASH final state (`succeeded`) → records kept in that state (retention decrements it). */
    finalCount: `${base}:final-count`,
    /** HASH: a submission (claimed requests on their way into one batch). */
    submission: (id: string) => `${base}:sub:${id}`,
    /** LIST of custom_ids of a submission, in claim order. */
    submissionMembers: (id: string) => `${base}:sub:${id}:m`,
    /**
     * LIST of the custom_ids the API refused at create time from one submission, set aside: the
     * member list of the pseudo-submission `<id>-rejected`, which their records name.
     */
    rejectedMembers: (id: string) => `${base}:sub:${rejectedSubmissionId(id)}:m`,
    /** ZSET cid → since ms: requests on the real-time path (written by enqueue.lua and apply.lua). */
    realtime: `${base}:realtime`,
    /** SET of submission ids not yet resolved (claiming / creating). */
    openSubmissions: `${base}:subs-open`,
    /** ZSET custom_id → final time (succeeded / dead): what retention deletes, oldest first. */
    finals: `${base}:final`,
    /** ZSET submission id → resolved time (submitted / released): what retention deletes. */
    resolvedSubmissions: `${base}:subs-resolved`,
    /** STRING: set once the records and submissions of before the two indexes above are indexed. */
    retentionIndexed: `${base}:retention-indexed`,
    /** HASH: what we know of one Message Batch. */
    batch: (batchId: string) => `${base}:batch:${batchId}`,
    /** ZSET batchId → submitted-at ms: every batch we know. */
    batches: `${base}:batches`,
    /** SET of batch ids whose results are not yet applied. */
    inflight: `${base}:inflight`,
    /** HASH per UTC day: `<mode>|<feature>|<model>|<metric>` → integer. */
    ledger: (day: string) => `${base}:ledger:${day}`,
    /** SET of days that have a ledger hash. */
    ledgerDays: `${base}:ledger-days`,
    /** HASH of counters (results by type, requeues, dead letters, duplicates, …). */
    stats: `${base}:stats`,
    /** HASH `<role>:<instance>` → JSON heartbeat. */
    heartbeats: `${base}:heartbeats`,
    /** HASH code → JSON alert. */
    alerts: `${base}:alerts`,
    /** HASH: the submission circuit breaker (open after billing errors). */
    circuit: `${base}:circuit`,
    /** LIST of the latest flush records (JSON), newest first, capped. */
    flushes: `${base}:flushes`,
    /** HASH: create backoff state of the batcher. */
    backoff: `${base}:backoff`,
    /** HASH: what the last flush found about admission (cap, requests in flight, held, at, instance). */
    admission: `${base}:admission`,
    /** HASH budget id (`<name>/<day|month>`) → JSON budget (its limit also in nano-dollars, `lim`). */
    budgets: `${base}:budgets`,
    /**
     * HASH `<budget id>|<window>|r` → nano-dollars reserved, `…|s` → spent, per budget window
     * (`yyyy-mm-dd` or `yyyy-mm`): written by claim.lua, release.lua and apply.lua.
     */
    budgetUse: `${base}:budget-use`,
    /**
     * HASH `<feature>|<partition>` → the estimates (nano-dollars) of its queued requests, kept by
     * the pending index's helpers (_pending.lua): what enqueue's budget check counts as promised.
     */
    queuedEst: `${base}:queued-est`,
    /** STRING: the batcher's flush lock (token, PX lease): one flush at a time across processes. */
    flushLock: `${base}:flush-lock`,
    /**
     * STRING: the CSRF token every board process of this prefix shares, so that a page served by
     * one replica behind a load balancer can post to another.
     */
    boardCsrf: `${base}:board-csrf`,

    // ---- HTTP API and webhooks (packages/store/src/api-tokens.ts, webhook-endpoints.ts, events.ts)
    /** HASH sha256(token) hex → JSON token record (name, scopes, created): tokens are never stored. */
    apiTokens: `${base}:api-tokens`,
    /** HASH endpoint name → JSON endpoint (URL, `whsec_` secret, events, filters, enabled). */
    webhookEndpoints: `${base}:webhook-endpoints`,
    /** HASH per endpoint: delivery health (failing since, last success / failure / status). */
    webhookHealth: (name: string) => `${base}:webhook-health:${name}`,
    /**
     * HASH event type → number of enabled endpoints subscribing. The scripts that finalize requests
     * write an event only when their type has a subscriber: no endpoint, no cost.
     */
    webhookSubscriptions: `${base}:webhook-subs`,
    /** STREAM: the event outbox, written in the same script as the outcome, read by the dispatcher. */
    events: `${base}:events`,
    /** HASH `<feature>|<epoch>` → requests of that feature and drain epoch not final yet. */
    featureOpen: `${base}:feature-open`,
    /** HASH feature → its current drain epoch (a drain mark starts the next one). */
    featureEpoch: `${base}:feature-epoch`,
    /** ZSET epoch → epoch: the epochs of one feature that still have requests not final. */
    featureEpochs: (feature: string) => `${base}:feature-epochs:${feature}`,
    /** ZSET mark id → epoch: the drain marks of one feature not yet drained. */
    drainPending: (feature: string) => `${base}:drain-pending:${feature}`,
    /** HASH mark id → JSON drain mark (feature, epoch, marked at, drained at). */
    drainMarks: `${base}:drain-marks`,
    /** HASH `<feature>|<enqueued|succeeded|dead|canceled>` → count since the first enqueue. */
    featureStats: `${base}:feature-stats`,
  };
}

/** The pseudo-submission that holds what the API refused from submission `id`. */
export const rejectedSubmissionId = (id: string) => `${id}-rejected`;

export type StoreKeys = ReturnType<typeof storeKeys>;
