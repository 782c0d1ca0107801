import type Anthropic from '@anthropic-ai/sdk';
import type { SubmissionFields } from '@nightshift/store';
import type { FlushContext } from './context.js';

type MessageBatch = Anthropic.Messages.MessageBatch;

const MINUTE = 60_000;
/** Result lines read to confirm that an ended candidate holds our custom_ids. */
const CONFIRM_LINES = 20;

const total = (b: MessageBatch) => {
  const c = b.request_counts;
  return c.processing + c.succeeded + c.errored + c.canceled + c.expired;
};

/**
 * Looks at the API for the batch an ambiguous create may have made for a submission: created from
 * one minute before `createAt` (clock skew) up to a minute past now (a create that timed out on
 * our side can still be accepted later), holding exactly the submission's number of requests, and
 * not already known to the store. The candidate closest to `createAt` wins; an ended candidate
 * must also show our custom_ids in its first result lines. Throws when the API cannot be listed:
 * the caller then keeps the submission open rather than risk releasing a paid batch's requests.
 */
export async function findCreatedBatch(
  ctx: FlushContext,
  sub: Pick<SubmissionFields, 'id' | 'count' | 'createAt'>,
): Promise<MessageBatch | null> {
  const createAt = Number(sub.createAt ?? 0);
  const count = Number(sub.count);
  const from = createAt - MINUTE;
  const to = ctx.opts.now() + MINUTE;
  const candidates: MessageBatch[] = [];
  for await (const b of ctx.opts.client.messages.batches.list({ limit: 100 })) {
    const t = Date.parse(b.created_at);
    if (t < from) break; // newest first: everything further is older
    if (t > to || total(b) !== count) continue;
    if (await ctx.store.batches.get(b.id)) continue;
    candidates.push(b);
  }
  candidates.sort(
    (a, b) => Math.abs(Date.parse(a.created_at) - createAt) - Math.abs(Date.parse(b.created_at) - createAt),
  );
  for (const c of candidates) {
    if (await holdsOurRequests(ctx, c, sub.id)) return c;
  }
  return null;
}

/**
 * Once a batch has ended its results name its custom_ids: the first few must be claimed by our
 * submission. Before it ends (or when results cannot be read yet) count and time decide.
 */
async function holdsOurRequests(ctx: FlushContext, batch: MessageBatch, subId: string): Promise<boolean> {
  if (batch.processing_status !== 'ended' || !batch.results_url) return true;
  const cids: string[] = [];
  try {
    const decoder = await ctx.opts.client.messages.batches.results(batch.id);
    for await (const line of decoder) {
      cids.push(line.custom_id);
      if (cids.length >= CONFIRM_LINES) {
        decoder.controller.abort();
        break;
      }
    }
  } catch (err) {
    ctx.log.warn(
      { batchId: batch.id, err: (err as Error).message },
      'cannot read results to confirm a reconciled batch; matching by count and time',
    );
    return true;
  }
  const recs = await ctx.store.records.peek(cids, ['submission']);
  return recs.every((r) => r?.submission === subId);
}
