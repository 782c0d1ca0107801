import type { AttemptRecord, DeadLetterPayload, RequestRecord } from '@nightshift/shared';
import { type ApplyItem, addDeadLetters, deadLetterPayload } from '@nightshift/store';
import type { FlushContext, FlushState } from './context.js';

/**
 * Dead-letters requests the API refused at create time (a 400 named them, or a single request was
 * still too large), then takes them out of the submission's member list.
 *
 * Order matters for crash safety: the `{dead-letters}` jobs first (deterministic ids, so a
 * repeat is a no-op), then the guarded apply (record → dead), then the member-list move. A crash
 * before the apply leaves the request claimed by the open submission: recovery releases it, the
 * next create refuses it again and the same job id dedupes the dead letter.
 */
export async function deadLetterRejected(
  ctx: FlushContext,
  state: FlushState,
  subId: string,
  cids: string[],
  failure: { type: string; message: string; code?: string },
): Promise<number> {
  const { store } = ctx;
  const now = ctx.opts.now();
  const reason = `rejected by API: ${failure.message}`;
  const records = await Promise.all(cids.map((c) => store.records.get(c)));
  const owned = records.filter((r): r is RequestRecord => r?.state === 'claimed' && r.submission === subId);
  const letters: { payload: DeadLetterPayload; deaths: number }[] = [];
  const applies: ApplyItem[] = [];
  for (const rec of owned) {
    const entry: AttemptRecord = {
      attempt: Number(rec.attempt),
      batchId: null,
      outcome: 'rejected',
      errorType: failure.type,
      message: failure.message,
      at: now,
    };
    letters.push({
      deaths: Number(rec.deaths || 0) + 1,
      payload: deadLetterPayload(
        {
          customId: rec.customId,
          feature: rec.feature,
          model: rec.model,
          params: rec.params,
          metadata: rec.metadata,
          history: rec.history,
        },
        { reason, lastError: failure, entry, batchId: null, deadAt: now },
      ),
    });
    applies.push({ cid: rec.customId, action: 'dead', guardSub: subId, reason, error: failure, entry });
  }
  await addDeadLetters(ctx.deadLetterQueue, letters);
  const codes = await store.outcomes.apply(applies, now);
  // Out of the member list, into a side list that records what the API refused from this submission.
  await store.submissions.setAsideRejected(
    subId,
    owned.map((r) => r.customId),
  );
  const dead = codes.filter((c) => c.code === 'ok').length;
  state.report.deadLettered += dead;
  ctx.log.warn(
    { submissionId: subId, customIds: cids, reason },
    'requests rejected by the API, dead-lettered',
  );
  return dead;
}
