import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type DeliveryJobData, jobIds, type Logger, redactError } from '@nightshift/shared';
import {
  EventOutbox,
  isCompacted,
  type OutboxEvent,
  type RedisClient,
  type Store,
  WebhookEndpoints,
} from '@nightshift/store';
import type { Queue } from 'bullmq';
import type { WebhookInstruments } from './metrics.js';
import type { ResolvedWebhooksOptions } from './options.js';
import { metadataOf, PayloadBuilder, wants } from './payload.js';

const READ = 200;
const ADD_CHUNK = 500;
const RETRY_WAITING_MS = 250;

/**
 * Turns outbox events into delivery jobs, one per (event, subscribed endpoint), with the id
 * `whd-<endpoint>-<event id>`. An event is acknowledged (and deleted from the stream) only after
 * its jobs exist, so a dispatcher killed in between leaves it pending: it or another dispatcher
 * claims it after `claimIdleMs` and adds the same jobs again, which BullMQ ignores (same ids).
 */
export class Dispatcher {
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly outbox: EventOutbox;
  private readonly endpoints: WebhookEndpoints;
  private readonly waiting = new Map<string, OutboxEvent>();
  private stopped = false;
  private lastClaim = 0;
  private lastRetry = 0;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly blocking: RedisClient,
    private readonly store: Store,
    private readonly deliveries: Queue<DeliveryJobData>,
    private readonly results: Queue,
    private readonly opts: ResolvedWebhooksOptions,
    private readonly log: Logger,
    private readonly metrics: WebhookInstruments,
  ) {
    this.outbox = new EventOutbox(store, blocking);
    this.endpoints = new WebhookEndpoints(store);
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops after the batch in progress; the blocking read is cut by closing its connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.blocking.disconnect();
    await this.loop;
  }

  private async run() {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.outbox.ensureGroup();
        await this.step();
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        this.log.warn({ err: redactError(err) }, 'webhook dispatch failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** failures)));
      }
    }
  }

  /** One round: events of dead dispatchers, events waiting for their result, new events. */
  async step(): Promise<number> {
    const now = this.opts.now();
    const batch = new Map<string, OutboxEvent>();
    if (now - this.lastClaim >= this.opts.claimIdleMs / 2) {
      this.lastClaim = now;
      for (const e of await this.outbox.claimStale(this.consumer, this.opts.claimIdleMs, READ))
        batch.set(e.streamId, e);
    }
    if (this.waiting.size && now - this.lastRetry >= RETRY_WAITING_MS) {
      this.lastRetry = now;
      for (const [id, e] of this.waiting) batch.set(id, e);
      this.waiting.clear();
    }
    const block = batch.size || this.waiting.size ? RETRY_WAITING_MS : 1_000;
    for (const e of await this.outbox.read(this.consumer, READ, block)) batch.set(e.streamId, e);
    if (batch.size) await this.handle([...batch.values()]);
    return batch.size;
  }

  private async handle(events: OutboxEvent[]) {
    const endpoints = await this.endpoints.all();
    const meta = await metadataOf(this.store, events);
    const builder = new PayloadBuilder(this.store, this.results, this.opts);
    const jobs: { name: string; data: DeliveryJobData; opts: { jobId: string } }[] = [];
    const done: string[] = [];
    const at = this.opts.now();
    for (const ev of events) {
      const targets = endpoints.filter((ep) => wants(ep, ev));
      if (targets.length) {
        const body = await builder.build(ev, meta.get(ev.fields.c ?? ''));
        if (body === 'wait') {
          this.waiting.set(ev.streamId, ev);
          continue;
        }
        for (const ep of targets) {
          jobs.push({
            name: ev.type,
            data: { eventId: ev.id, endpoint: ep.name, type: ev.type, body, at },
            opts: { jobId: jobIds.webhook(ep.name, ev.id) },
          });
        }
      }
      done.push(ev.streamId);
    }
    for (let i = 0; i < jobs.length; i += ADD_CHUNK)
      await this.deliveries.addBulk(jobs.slice(i, i + ADD_CHUNK));
    // The deliveries exist (they carry the body): the results are handed over. Before the ack, so
    // a kill in between fans the events out again (the same job ids: no-ops) and compacts then.
    if (this.opts.consumeResults) await this.handOver(succeededIn(events, done));
    await this.outbox.ack(done);
    this.metrics.dispatched(done.length);
    if (jobs.length) this.log.debug({ events: done.length, deliveries: jobs.length }, 'events fanned out');
  }

  /**
   * Compacts the records of requests whose request.succeeded event is fanned out
   * (`consumeResults`): delivered.lua, guarded by the job each record names now, so the
   * `{results}` consumer completes and removes that job. A record a repair points at another job
   * between the read and the script is read again.
   */
  private async handOver(cids: string[]) {
    let todo = cids;
    for (let round = 0; round < 3 && todo.length; round++) {
      const recs = await this.store.records.peek(todo, ['state', 'delivery', 'customId']);
      const byJob = new Map<string, string[]>();
      todo.forEach((cid, i) => {
        const rec = recs[i];
        if (rec?.state !== 'succeeded' || isCompacted(rec) || !rec.delivery) return;
        byJob.set(rec.delivery, [...(byJob.get(rec.delivery) ?? []), cid]);
      });
      const again: string[] = [];
      for (const [job, list] of byJob) {
        const compacted = await this.store.outcomes.delivered(job, list);
        list.forEach((cid, i) => {
          if (!compacted[i]) again.push(cid);
        });
      }
      todo = again;
    }
    if (todo.length)
      this.log.warn({ customIds: todo.slice(0, 10), count: todo.length }, 'results not handed over');
  }
}

/** The custom_ids of the request.succeeded events among those done. */
function succeededIn(events: OutboxEvent[], done: string[]): string[] {
  const ids = new Set(done);
  return events
    .filter((e) => e.type === 'request.succeeded' && ids.has(e.streamId) && e.fields.c)
    .map((e) => e.fields.c!);
}
