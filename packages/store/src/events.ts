import type { WebhookEventType } from '@nightshift/shared';
import type { RedisClient } from './connection.js';
import { coreOf } from './core.js';
import type { Store } from './store.js';

/** One event of the outbox: its stream id, type, deterministic id (the webhook-id) and fields. */
export interface OutboxEvent {
  streamId: string;
  type: WebhookEventType;
  id: string;
  /** Short field names as the scripts write them (c custom_id, f feature, p partition, …). */
  fields: Record<string, string>;
}

type RawEntry = [id: string, fields: string[]];

const GROUP = 'dispatch';

function parse(entries: RawEntry[] | null | undefined): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (const entry of entries ?? []) {
    if (!entry) continue; // XAUTOCLAIM answers nil for entries deleted meanwhile
    const [streamId, flat] = entry;
    const fields: Record<string, string> = {};
    for (let i = 0; i < (flat?.length ?? 0); i += 2) fields[flat[i]!] = flat[i + 1]!;
    out.push({ streamId, type: fields.t as WebhookEventType, id: fields.id ?? '', fields });
  }
  return out;
}

/**
 * The event outbox (`events` stream), read by webhook dispatchers through one consumer group.
 * The finalizing scripts append to it in the same call as the outcome, so an event exists exactly
 * when its outcome does; a dispatcher acknowledges (and deletes) an entry only after its delivery
 * jobs exist, and entries of a dispatcher that died are claimed by another after `minIdleMs`.
 */
export class EventOutbox {
  private readonly redis: RedisClient;
  private readonly key: string;

  /**
   * A dispatcher's read may block (XREADGROUP BLOCK): it passes a connection of its own as
   * `blocking`; everyone else reads through the store's.
   */
  constructor(store: Store, blocking?: RedisClient) {
    const core = coreOf(store);
    this.redis = blocking ?? core.redis;
    this.key = core.keys.events;
  }

  /** Creates the consumer group (from the start of the stream) if it is missing. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.key, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  private async readGroup(consumer: string, count: number, from: string, blockMs?: number) {
    const block = blockMs === undefined ? [] : ['BLOCK', blockMs];
    const reply = (await (this.redis.xreadgroup as (...a: unknown[]) => Promise<unknown>)(
      'GROUP',
      GROUP,
      consumer,
      'COUNT',
      count,
      ...block,
      'STREAMS',
      this.key,
      from,
    )) as [string, RawEntry[]][] | null;
    return parse(reply?.[0]?.[1]);
  }

  /** New events for this consumer, waiting up to `blockMs` for the first. */
  read(consumer: string, count: number, blockMs: number): Promise<OutboxEvent[]> {
    return this.readGroup(consumer, count, '>', blockMs);
  }

  /** Events this consumer read but did not acknowledge yet, from `after` on (its retry list). */
  ownPending(consumer: string, count: number, after = '0'): Promise<OutboxEvent[]> {
    return this.readGroup(consumer, count, after);
  }

  /** Takes over events other consumers read and left unacknowledged for at least `minIdleMs`. */
  async claimStale(consumer: string, minIdleMs: number, count: number): Promise<OutboxEvent[]> {
    const reply = (await this.redis.xautoclaim(
      this.key,
      GROUP,
      consumer,
      minIdleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, RawEntry[], string[]?];
    return parse(reply?.[1]);
  }

  /** Acknowledges and deletes handled events (one MULTI: the stream stays as long as the backlog). */
  async ack(streamIds: string[]): Promise<void> {
    if (streamIds.length === 0) return;
    await this.redis
      .multi()
      .xack(this.key, GROUP, ...streamIds)
      .xdel(this.key, ...streamIds)
      .exec();
  }

  /**
   * When the oldest event not handled yet was written (ms of Redis's clock, from its stream id);
   * undefined when there is none.
   */
  async oldestAt(): Promise<number | undefined> {
    const [first] = (await this.redis.xrange(this.key, '-', '+', 'COUNT', 1)) as [string, string[]][];
    return first ? Number(first[0].split('-')[0]) : undefined;
  }

  /** Events not handled yet: in the stream (unread or pending). */
  async backlog(): Promise<number> {
    return this.redis.xlen(this.key);
  }

  /** Removes consumers (dispatchers gone) that hold nothing and were idle for `idleMs`. */
  async pruneConsumers(idleMs: number): Promise<number> {
    const list = (await this.redis.xinfo('CONSUMERS', this.key, GROUP).catch(() => [])) as unknown[][];
    let removed = 0;
    for (const c of list) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i < c.length; i += 2) info[String(c[i])] = c[i + 1];
      if (Number(info.pending) === 0 && Number(info.idle) > idleMs) {
        await this.redis.xgroup('DELCONSUMER', this.key, GROUP, String(info.name));
        removed++;
      }
    }
    return removed;
  }
}
