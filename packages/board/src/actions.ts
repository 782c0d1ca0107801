import type { DeadLetterPayload } from '@nightshift/shared';
import { codeText } from '@nightshift/store';
import type { Job } from 'bullmq';
import type { BoardContext } from './context.js';

/** The outcome of an action, as JSON for scripts and the page, and as a code for the no-JS redirect. */
export interface ActionResult {
  status: number;
  ok: boolean;
  message: string;
  /** For the redirect after a plain form post (`/?done=<code>&n=<count>`). */
  code: 'retried' | 'cancelled' | 'webhooks' | 'failed';
  count: number;
  details?: Record<string, unknown>;
}

const PAGE = 500;
const ID = /^[A-Za-z0-9_-]{1,200}$/;

/** A refused action: its status and the sentence that says why. */
export const fail = (status: number, message: string): ActionResult => ({
  status,
  ok: false,
  message,
  code: 'failed',
  count: 0,
});

const customIdOf = (job: Job | undefined) =>
  (job?.data as Partial<DeadLetterPayload> | undefined)?.customId ?? undefined;

/**
 * Sends one dead-lettered request back to the queue (`store.retryDead`) and removes its dead-letter
 * job. A record that is no longer dead (already retried elsewhere) just loses its stale job; a
 * record that is gone (past retention) keeps the job so nothing disappears silently.
 */
export async function retryDeadLetter(ctx: BoardContext, jobId: string): Promise<ActionResult> {
  if (!ID.test(jobId)) return fail(400, `"${jobId}" is not a dead-letter job id.`);
  const job = await ctx.queues.deadLetters.getJob(jobId);
  const cid = customIdOf(job);
  if (!job || !cid) return fail(404, `Dead letter ${jobId} not found (already retried or removed?).`);
  const [result] = await ctx.store.outcomes.retryDead([cid], ctx.opts.now());
  if (!result || result.code === 'unknown') {
    return fail(409, `The record of ${cid} is gone (past retention); re-enqueue it from its source instead.`);
  }
  await job.remove();
  const code = codeText(result);
  ctx.logger.info({ customId: cid, jobId, result: code }, 'dead letter retried from the board');
  return {
    status: 200,
    ok: true,
    message:
      result.code === 'ok'
        ? `${cid} is queued again.`
        : `${cid} was not dead any more (${code}); its dead letter is cleared.`,
    code: 'retried',
    count: 1,
    details: { customId: cid, result: code },
  };
}

/** Retries every waiting dead letter, a page at a time. */
export async function retryAllDeadLetters(ctx: BoardContext): Promise<ActionResult> {
  const q = ctx.queues.deadLetters;
  let offset = 0;
  let retried = 0;
  let skipped = 0;
  for (;;) {
    const jobs = (await q.getWaiting(offset, offset + PAGE - 1)).filter((j): j is Job => !!j);
    if (jobs.length === 0) break;
    const withId = jobs.filter((j) => customIdOf(j));
    const codes = await ctx.store.outcomes.retryDead(
      withId.map((j) => customIdOf(j)!),
      ctx.opts.now(),
    );
    const removable = withId.filter((_, i) => codes[i]?.code !== 'unknown');
    await Promise.all(removable.map((j) => j.remove()));
    retried += codes.filter((c) => c.code === 'ok').length;
    // Jobs kept (unknown record, or no custom_id) stay in the list: step over them.
    const kept = jobs.length - removable.length;
    skipped += kept;
    offset += kept;
  }
  ctx.logger.info({ retried, skipped }, 'all dead letters retried from the board');
  return {
    status: 200,
    ok: true,
    message: `${retried} request${retried === 1 ? '' : 's'} queued again${skipped ? `; ${skipped} kept (record gone)` : ''}.`,
    code: 'retried',
    count: retried,
    details: { retried, skipped },
  };
}

/** Asks the API to cancel a batch; the collector then applies its results (canceled ones are requeued). */
export async function cancelBatch(ctx: BoardContext, batchId: string): Promise<ActionResult> {
  const client = ctx.opts.client;
  if (!client) return fail(404, 'Cancelling needs an Anthropic client (ANTHROPIC_API_KEY) on the board.');
  if (!ID.test(batchId)) return fail(400, `"${batchId}" is not a batch id.`);
  if (!(await ctx.store.batches.get(batchId)))
    return fail(404, `Batch ${batchId} is not known to Nightshift.`);
  try {
    const res = await client.messages.batches.cancel(batchId);
    await ctx.store.batches.update(batchId, { status: res.processing_status });
    ctx.logger.info({ batchId, status: res.processing_status }, 'batch cancel requested from the board');
    return {
      status: 200,
      ok: true,
      message: `Cancel requested for ${batchId} (now ${res.processing_status}).`,
      code: 'cancelled',
      count: 1,
      details: { batchId, status: res.processing_status },
    };
  } catch (err) {
    const status = (err as { status?: number }).status;
    ctx.logger.warn({ batchId, status, err: (err as Error).message }, 'batch cancel failed');
    return fail(502, `The API refused to cancel ${batchId}${status ? ` (HTTP ${status})` : ''}.`);
  }
}
