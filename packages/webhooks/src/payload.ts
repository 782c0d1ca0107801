import {
  jobIds,
  parseJson,
  type ResultJobData,
  type ResultPayload,
  type WebhookData,
  type WebhookEndpoint,
  type WebhookEnvelope,
} from '@nightshift/shared';
import { isCompacted, type OutboxEvent, resultsInJob, type Store } from '@nightshift/store';
import type { Queue } from 'bullmq';

/** Cuts a string at `max` UTF-8 bytes without splitting a character. */
export function cutUtf8(text: string, max: number): { text: string; truncated: boolean } {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return { text, truncated: false };
  let end = max;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return { text: buf.subarray(0, end).toString('utf8'), truncated: true };
}

/** True when an endpoint wants this event: type, feature and partition filters, request-only. */
export function wants(ep: WebhookEndpoint, ev: OutboxEvent): boolean {
  if (!ep.enabled || !ep.events.includes(ev.type)) return false;
  const { f: feature, p: partition, n: named } = ev.fields;
  // A batch mixes features: the feature filter does not apply to batch.ended.
  if (ep.features.length && feature !== undefined && !ep.features.includes(feature)) return false;
  if (ep.partitions.length && partition !== undefined && !ep.partitions.includes(partition)) return false;
  if (ep.requestOnly && ev.type.startsWith('request.')) return (named ?? '').split(',').includes(ep.name);
  return true;
}

/**
 * Builds the bodies of a few events. A request.succeeded needs the result, which lives in the
 * `{results}` job its record names: a batch's job is added right after the apply that wrote the
 * event, so it may not exist yet (`'wait'`; the dispatcher tries again). After `resultWaitMs` the
 * event goes out without the text rather than never.
 */
export class PayloadBuilder {
  private readonly jobs = new Map<string, Map<string, ResultPayload> | null>();

  constructor(
    private readonly store: Store,
    private readonly results: Queue,
    private readonly opts: { maxTextBytes: number; resultWaitMs: number; now: () => number },
  ) {}

  private async resultsOf(jobId: string): Promise<Map<string, ResultPayload> | null> {
    if (!this.jobs.has(jobId)) {
      const job = await this.results.getJob(jobId);
      const data = job?.data as ResultJobData | ResultPayload | undefined;
      const list = data ? resultsInJob(data) : null;
      this.jobs.set(jobId, list ? new Map(list.map((r) => [r.customId, r])) : null);
    }
    return this.jobs.get(jobId) ?? null;
  }

  /**
   * The result of a succeeded request: from the job the event names, else the one its record names
   * now; `'gone'` when neither has it and the record is compacted (its result was handed over and
   * its job is gone: waiting would not bring the text back).
   */
  private async resultOf(ev: OutboxEvent): Promise<ResultPayload | null | 'gone'> {
    const cid = ev.fields.c ?? '';
    const named = ev.fields.j || jobIds.result(cid);
    const hit = (await this.resultsOf(named))?.get(cid);
    if (hit) return hit;
    // A repair after a crash delivers through another job and points the record at it.
    const [rec] = await this.store.records.peek([cid], ['delivery', 'state', 'customId']);
    if (rec?.delivery && rec.delivery !== named) {
      const moved = (await this.resultsOf(rec.delivery))?.get(cid);
      if (moved) return moved;
    }
    return rec && isCompacted(rec) ? 'gone' : null;
  }

  async build(ev: OutboxEvent, meta: unknown): Promise<string | 'wait'> {
    const f = ev.fields;
    const at = Number(f.at) || this.opts.now();
    const ref = { customId: f.c ?? '', feature: f.f ?? '', partition: f.p ?? '', metadata: meta };
    let data: WebhookData[keyof WebhookData];
    switch (ev.type) {
      case 'request.succeeded': {
        const found = await this.resultOf(ev);
        if (found === null && this.opts.now() - at < this.opts.resultWaitMs) return 'wait';
        const r = found === 'gone' ? null : found;
        const text = r ? textOf(r) : null;
        const cut = text === null ? null : cutUtf8(text, this.opts.maxTextBytes);
        data = {
          ...ref,
          metadata: r?.metadata ?? meta,
          model: r?.model ?? '',
          mode: r?.mode ?? (f.b ? 'batch' : 'realtime'),
          batchId: f.b || null,
          attempt: Number(f.a) || 1,
          text: cut?.text ?? null,
          textTruncated: cut?.truncated ?? false,
          stopReason: r?.message?.stop_reason ?? null,
          usage: r?.usage ?? null,
          cost: r
            ? { cost: r.cost.cost, realtimeEquivalent: r.cost.realtimeEquivalent, savings: r.cost.savings }
            : null,
        } satisfies WebhookData['request.succeeded'];
        break;
      }
      case 'request.failed':
        data = {
          ...ref,
          reason: f.r ?? '',
          lastError: parseJson(f.e, null),
          attempt: Number(f.a) || 1,
          batchId: f.b || null,
        } satisfies WebhookData['request.failed'];
        break;
      case 'request.canceled':
        data = ref satisfies WebhookData['request.canceled'];
        break;
      case 'batch.ended':
        data = {
          batchId: f.b ?? '',
          partition: f.p ?? '',
          requestCount: Number(f.k) || 0,
          counts: parseJson(f.cnt, {}),
        } satisfies WebhookData['batch.ended'];
        break;
      case 'feature.drained':
        data = {
          feature: f.f ?? '',
          markId: f.m ?? '',
          markedAt: new Date(Number(f.ma) || at).toISOString(),
        } satisfies WebhookData['feature.drained'];
        break;
      default:
        throw new Error(`unknown event type ${String(ev.type)}`);
    }
    const envelope = { type: ev.type, timestamp: new Date(at).toISOString(), data } as WebhookEnvelope;
    return JSON.stringify(envelope);
  }
}

function textOf(r: ResultPayload): string {
  const blocks = (r.message?.content ?? []) as { type: string; text?: string }[];
  return blocks
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('');
}

/** The metadata of the requests some events are about (one pipeline). */
export async function metadataOf(store: Store, events: OutboxEvent[]): Promise<Map<string, unknown>> {
  const cids = [...new Set(events.filter((e) => e.type.startsWith('request.')).map((e) => e.fields.c ?? ''))];
  const recs = await store.records.peek(cids, ['metadata']);
  return new Map(cids.map((c, i) => [c, parseJson(recs[i]?.metadata, null)]));
}
