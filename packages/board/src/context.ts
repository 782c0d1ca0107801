import { type Logger, QUEUES, type QueueRole } from '@nightshift/shared';
import { openQueue, Store } from '@nightshift/store';
import type { Queue } from 'bullmq';
import type { ResolvedOptions } from './options.js';

/** What every route needs: the store, the queues, the options, a logger and the CSRF token (shared by the replicas). */
export interface BoardContext {
  store: Store;
  queues: Record<QueueRole, Queue>;
  opts: ResolvedOptions;
  logger: Logger;
  csrfToken: string;
}

/** The queue roles in the order people read them. */
export const QUEUE_ROLES = Object.keys(QUEUES) as QueueRole[];

/**
 * Opens every Nightshift queue on the shared connection (reads and light writes only; no workers).
 * Their connection errors are the connection's, logged by its owner (`logRedisErrors` in the bin):
 * a Redis outage shows as 503 on /healthz, not as a crash.
 */
function openQueues(opts: ResolvedOptions): Record<QueueRole, Queue> {
  const out = {} as Record<QueueRole, Queue>;
  for (const role of QUEUE_ROLES) out[role] = openQueue(role, opts.connection, opts.prefix);
  return out;
}

/** The context of one board: a store and the queues on the caller's connection. */
export function createContext(opts: ResolvedOptions, logger: Logger, csrfToken: string): BoardContext {
  return {
    store: new Store(opts.connection, opts.prefix),
    queues: openQueues(opts),
    opts,
    logger,
    csrfToken,
  };
}
