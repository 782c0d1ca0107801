import type Anthropic from '@anthropic-ai/sdk';
import { RESULTS_ARCHIVE_MS } from '@nightshift/shared';
import { addTrackingJob, trackingJobData } from '@nightshift/store';
import type { Ctx } from './types.js';

type MessageBatch = Anthropic.Messages.MessageBatch;

/** Batches found not to be ours, remembered so their results are not downloaded on every scan. */
const FOREIGN_MEMORY = 10_000;

/**
 * Orphan adoption (opt-in): lists batches at the API, newest first, back to the 29-day archive
 * horizon. An ended batch we do not know, whose results carry custom_ids of our records, is
 * committed under the synthetic submission `orphan-<batchId>` (origin 'adopted') and gets a tracking
 * job. Its records are not held by that submission, so only its successes take effect (once, like
 * any success); its failures are stale by construction.
 */
export async function adoptOrphans(ctx: Ctx, foreign: Set<string>): Promise<string[]> {
  const adopted: string[] = [];
  const now = ctx.now();
  const pages = ctx.client.messages.batches.list({ limit: 100 }, { timeout: ctx.opts.requestTimeoutMs });
  for await (const b of pages) {
    if (ctx.signal.aborted) break;
    const created = Date.parse(b.created_at);
    if (created < now - RESULTS_ARCHIVE_MS) break;
    if (b.processing_status !== 'ended' || b.archived_at || foreign.has(b.id)) continue;
    // A young batch may belong to a submit that has not committed it yet.
    if (now - created < ctx.opts.orphanMinAgeMs) continue;
    if (await ctx.store.batches.has(b.id)) continue;
    if (await carriesOurIds(ctx, b.id)) {
      if (await adopt(ctx, b, now)) adopted.push(b.id);
    } else {
      if (foreign.size >= FOREIGN_MEMORY) foreign.clear();
      foreign.add(b.id);
    }
  }
  return adopted;
}

/** Reads the first chunk of the batch's results and checks whether any custom_id is a record of ours. */
async function carriesOurIds(ctx: Ctx, batchId: string): Promise<boolean> {
  const decoder = await ctx.client.messages.batches.results(
    batchId,
    {},
    { timeout: ctx.opts.requestTimeoutMs, signal: ctx.signal },
  );
  const cids: string[] = [];
  try {
    for await (const line of decoder) {
      if (typeof line?.custom_id === 'string') cids.push(line.custom_id);
      if (cids.length >= ctx.opts.chunkSize) break;
    }
  } finally {
    decoder.controller.abort();
  }
  const recs = await ctx.store.records.peek(cids, ['state']);
  return recs.some((r) => r !== null);
}

async function adopt(ctx: Ctx, b: MessageBatch, now: number): Promise<boolean> {
  const sub = `orphan-${b.id}`;
  const c = b.request_counts;
  const count = c.succeeded + c.errored + c.canceled + c.expired + c.processing;
  const code = await ctx.store.submissions.commit(
    sub,
    b,
    { count, bytes: 0, partition: '', reason: 'manual', origin: 'adopted' },
    now,
  );
  if (code === 'known') return false;
  const rec = await ctx.store.batches.get(b.id);
  if (rec) await addTrackingJob(ctx.queues.batches, trackingJobData(rec));
  ctx.log.warn({ batchId: b.id, count }, 'adopted an orphan batch whose custom_ids are ours');
  return true;
}
