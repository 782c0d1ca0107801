import {
  createProducer,
  createResultWorker,
  type EnqueueRequest,
  type ResultWorker,
} from '@nightshift/producer';
import { silentLogger } from '@nightshift/testing';

/** One handler invocation of the result worker. */
export interface Delivery {
  /** BullMQ id of the `{results}` job that carried the result. */
  jobId: string;
  /** Creation time of the job: two deliveries with the same timestamp are one job delivered twice. */
  jobCreatedAt: number;
  at: number;
}

/** Options of {@link Workload}. */
export interface WorkloadOptions {
  redisUrl: string;
  prefix: string;
  /** Distinct requests (deterministic keys `<runId>-<i>`). */
  requests: number;
  /** Requests per enqueueMany call (one acknowledgement per slice). */
  slice: number;
  runId: string;
}

const FEATURE = 'chaos';

/**
 * The service side of a chaos run: a producer that enqueues the requests slice by slice (retrying a
 * slice whose call failed, as a service would: enqueueMany is idempotent), remembers when each
 * custom_id was acknowledged, and a result worker that records every delivery.
 */
export class Workload {
  readonly requests: EnqueueRequest[];
  readonly cids: string[];
  /** custom_id → time its enqueue was acknowledged (first time). */
  readonly acks = new Map<string, number>();
  /** Slice start index → time acknowledged (latest), for replays after a power loss. */
  private readonly sliceAcks = new Map<number, number>();
  /** custom_id → deliveries to the result handler. */
  readonly deliveries = new Map<string, Delivery[]>();
  enqueueCalls = 0;
  enqueueFailures = 0;
  private readonly producer: ReturnType<typeof createProducer>;
  private sink: ResultWorker | undefined;

  constructor(private readonly opts: WorkloadOptions) {
    this.producer = createProducer({ redisUrl: opts.redisUrl, prefix: opts.prefix, logger: silentLogger });
    this.requests = Array.from({ length: opts.requests }, (_, i) => ({
      feature: FEATURE,
      key: `${opts.runId}-${i}`,
      partition: i % 4 === 0 ? 'tenant-b' : 'default',
      metadata: { i },
      params: {
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        system: 'Labels: invoice, contract, other',
        messages: [{ role: 'user', content: `document ${i} of run ${opts.runId}` }],
      },
    }));
    this.cids = this.requests.map((r) => this.producer.customIdFor(FEATURE, r.key!));
  }

  /** Starts the result worker (the service's consumer). */
  startSink(): void {
    this.sink = createResultWorker({
      redisUrl: this.opts.redisUrl,
      prefix: this.opts.prefix,
      concurrency: 16,
      logger: silentLogger,
      handler: (r, job) => {
        const list = this.deliveries.get(r.customId) ?? [];
        list.push({ jobId: String(job.id), jobCreatedAt: job.timestamp, at: Date.now() });
        this.deliveries.set(r.customId, list);
      },
    });
  }

  /**
   * Enqueues slices [from, to) of the requests one after the other, `gapMs` apart; a failed call
   * (Redis down) is retried until it is acknowledged or `stop()` says so.
   */
  async enqueueRange(from: number, to: number, gapMs: number, stop: () => boolean): Promise<void> {
    for (let start = from; start < to; start += this.opts.slice) {
      await this.enqueueSlice(start, Math.min(to, start + this.opts.slice), stop);
      if (gapMs > 0) await sleep(gapMs);
    }
  }

  private async enqueueSlice(start: number, end: number, stop: () => boolean): Promise<string[]> {
    for (;;) {
      this.enqueueCalls++;
      try {
        const res = await this.producer.enqueueMany(this.requests.slice(start, end));
        const at = Date.now();
        for (const r of res) if (!this.acks.has(r.customId)) this.acks.set(r.customId, at);
        this.sliceAcks.set(start, at);
        return res.filter((r) => r.outcome === 'queued').map((r) => r.customId);
      } catch {
        this.enqueueFailures++;
        if (stop()) return [];
        await sleep(200);
      }
    }
  }

  /**
   * After a power loss: enqueues again every slice acknowledged at or after `since` (what a service
   * that replays its recent work does). Returns the custom_ids that were missing, i.e. acknowledged
   * enqueues the crash lost.
   */
  async replay(since: number): Promise<string[]> {
    const lost: string[] = [];
    const starts = [...this.sliceAcks].filter(([, at]) => at >= since).map(([s]) => s);
    for (const start of starts.sort((a, b) => a - b)) {
      const end = Math.min(this.requests.length, start + this.opts.slice);
      lost.push(...(await this.enqueueSlice(start, end, () => false)));
    }
    return lost;
  }

  async close(): Promise<void> {
    await this.sink?.close();
    await this.producer.close();
  }
}

/** Waits `ms` (harness pacing only: tests wait on conditions). */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
