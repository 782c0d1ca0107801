import { bodyBytes } from './body.js';
import { commitBatch, releaseSubmission } from './commit.js';
import type { FlushContext } from './context.js';
import { findCreatedBatch } from './reconcile.js';

/**
 * Resolves every open submission whose lease has passed (its flush died or gave up):
 * - 'claiming': no create was attempted → release the members.
 * - 'creating': a create may have reached the API → reconcile through `batches.list`; adopt the
 *   batch found (commit, origin 'adopted'), else release. When the API cannot be listed the
 *   submission stays open for the next flush: its requests wait, but no paid batch goes unknown.
 * Runs under the flush lock, at start-up and at the start of every flush.
 */
export async function recoverSubmissions(ctx: FlushContext): Promise<{ released: number; adopted: number }> {
  const { store, opts } = ctx;
  const out = { released: 0, adopted: 0 };
  for (const id of await store.submissions.openIds()) {
    const sub = await store.submissions.get(id);
    const now = opts.now();
    if (!sub) {
      // An id without its hash cannot hold requests (the hash is written first, in one MULTI).
      await store.submissions.forgetOpen(id);
      continue;
    }
    if (Number(sub.lease) > now) continue;
    if (sub.state === 'claiming') {
      out.released += await releaseSubmission(ctx, null, id, 'recovery: the claim never reached create');
      continue;
    }
    if (sub.state !== 'creating') {
      await store.submissions.forgetOpen(id);
      continue;
    }
    let found: Awaited<ReturnType<typeof findCreatedBatch>>;
    try {
      found = await findCreatedBatch(ctx, sub);
    } catch (err) {
      ctx.log.warn(
        { submissionId: id, err: (err as Error).message },
        'recovery cannot list batches; the submission stays open',
      );
      continue;
    }
    if (found) {
      const count = Number(sub.count);
      const input = {
        subId: id,
        partition: sub.partition,
        reason: sub.reason,
        count,
        bytes: bodyBytes(count, Number(sub.bytes)),
        startedAt: Number(sub.created),
      };
      await commitBatch(ctx, null, input, found, 'adopted');
      out.adopted++;
    } else {
      out.released += await releaseSubmission(ctx, null, id, 'recovery: no batch at the API');
    }
  }
  return out;
}
