/**
 * Every BullMQ queue name and the key prefixes of the rate limiters are built here; the keys of
 * the store itself (`{req}`) are built only in @nightshift/store (src/keys.ts).
 *
 * Redis Cluster: BullMQ keeps each queue's keys in one hash slot when the queue name carries a
 * hash tag, so every queue name is `{role}` and different queues may sit on different shards.
 * Our own keys (request records, pending indexes, submissions, batches, ledger, heartbeats) are
 * touched together by Lua scripts, so they all share the one tag `{req}`.
 *
 *   <prefix>:{flush}:…          BullMQ queue: batcher ticks and manual flushes (single-flight)
 *   <prefix>:{batches}:…        BullMQ queue: one tracking job per batch in flight
 *   <prefix>:{collect}:…        BullMQ queue: collector sweeps (repeatable)
 *   <prefix>:{results}:…        BullMQ queue: results delivered to the service
 *   <prefix>:{dead-letters}:…   BullMQ queue: requests that reached a final failure
 *   <prefix>:{webhooks}:…       BullMQ queue: one delivery job per (event, webhook endpoint)
 *   <prefix>:{req}:…            our store: its keys are built in @nightshift/store (src/keys.ts)
 *   <prefix>:{api-rl}:…         rate-limiter-flexible counters of the HTTP API, one per token
 *   <prefix>:{board-login}:…    rate-limiter-flexible counters of the board's failed logins
 */

import { sha256Hex } from './json.js';

/** BullMQ queue names (the hash tag is part of the name). */
export const QUEUES = Object.freeze({
  flush: '{flush}',
  batches: '{batches}',
  collect: '{collect}',
  results: '{results}',
  deadLetters: '{dead-letters}',
  webhooks: '{webhooks}',
});

export type QueueRole = keyof typeof QUEUES;

/** Names people read in Bull Board. */
export const QUEUE_LABELS: Readonly<Record<QueueRole, string>> = Object.freeze({
  flush: 'flush (batcher ticks)',
  batches: 'batches in flight',
  collect: 'collect (collector sweeps)',
  results: 'results',
  deadLetters: 'dead letters',
  webhooks: 'webhook deliveries',
});

/** The default key prefix; `NIGHTSHIFT_PREFIX` overrides it. */
export const DEFAULT_PREFIX = 'nightshift';

/** Job ids never contain ':' and are never all digits (BullMQ rules, see ARCHITECTURE.md). */
export const jobIds = {
  /** The tracking job of one batch in `{batches}`. */
  batch: (batchId: string) => `batch-${batchId}`,
  /** The result job of a real-time answer: one result, added before the answer is applied. */
  result: (customId: string) => `res-${customId}`,
  /**
   * A result job of a batch: up to `resultsPerJob` results, added after they are applied. The id
   * hashes the custom_ids it was made for, so the same results applied again make the same id.
   */
  results: (batchId: string, customIds: readonly string[]) =>
    `res-${batchId}-${sha256Hex(customIds.join('\n')).slice(0, 24)}`,
  /** A dead letter: a new id per death, so a retried request that dies again is recorded again. */
  deadLetter: (customId: string, deaths: number) => `dead-${customId}-${deaths}`,
  /**
   * One delivery of one event to one webhook endpoint. Deterministic, so a dispatcher that fans an
   * event out again after a crash adds nothing new while the first job is retained.
   */
  webhook: (endpoint: string, eventId: string) => `whd-${endpoint}-${eventId}`,
  /** The repeatable scheduler ids. */
  flushScheduler: 'flush-tick',
  collectScheduler: 'collect-tick',
};

/** Key prefix of the HTTP API's rate limiter (its own hash tag: a hot counter kept off `{req}`). */
export const apiRateLimitPrefix = (prefix: string = DEFAULT_PREFIX) => `${prefix}:{api-rl}`;

/**
 * Key prefix of the board's failed-login counters, `<prefix>:{board-login}:<client address>`
 * (rate-limiter-flexible, shared by every board replica): its own hash tag, off the store's.
 */
export const boardLoginPrefix = (prefix: string = DEFAULT_PREFIX) => `${prefix}:{board-login}`;
