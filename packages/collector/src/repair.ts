import {
  type AttemptRecord,
  type DeadLetterPayload,
  jobIds,
  type Message,
  parseJson,
} from '@nightshift/shared';
import {
  addDeadLetters,
  deadLetterPayload,
  deliverResults,
  missingJobIds,
  resultsWantedByWebhooks,
} from '@nightshift/store';
import { successOf } from './apply.js';
import type { PeekedRecord } from './decide.js';
import type { Ctx } from './types.js';

/** A success line for a record this very batch already made succeed. */
export interface AppliedSuccess {
  cid: string;
  rec: PeekedRecord;
  message: Message;
}

/** A failure line for a record that is dead (perhaps by this batch). */
export interface AppliedDeath {
  cid: string;
  rec: PeekedRecord;
}

/**
 * Puts back the jobs of effects that were applied but whose jobs do not exist.
 *
 * A batch's `{results}` jobs are added after the guarded apply: a collector killed between the two
 * leaves records that succeeded, name their delivery job (`dlv`), and have no such job. A
 * dead-letter job is added before the apply, but a Redis that loses its last acknowledged writes
 * (an OS crash under `appendfsync everysec`, a failover to a replica that lagged) while a collector
 * is between the two can keep the apply and lose the job (found by the chaos suite, scenario
 * redis-everysec). Either way the record is final without its job.
 *
 * Every pass after a crash, and a pass that saw Redis reconnect (see `collect`), streams the batch
 * again; the lines of records this batch already finalized come here, and the missing jobs are
 * made again. Returns how many results and dead letters were put back.
 */
export async function repairApplied(
  ctx: Ctx,
  batchId: string,
  succeeded: AppliedSuccess[],
  dead: AppliedDeath[],
  now: number,
): Promise<number> {
  const results = await redeliverLost(ctx, batchId, succeeded, now);
  const letters = await lostDeadLetters(ctx, batchId, dead);
  await addDeadLetters(ctx.queues.deadLetters, letters);
  const added = results + letters.length;
  if (added) {
    ctx.log.warn(
      { batchId, results, deadLetters: letters.length },
      'jobs of applied results were missing (a crash or Redis lost writes): added again',
    );
  }
  return added;
}

/**
 * Successes whose delivery job is missing: the records are pointed at a new job (compare-and-set,
 * so a concurrent repair cannot deliver them twice) and the job is added with those results.
 */
async function redeliverLost(ctx: Ctx, batchId: string, succeeded: AppliedSuccess[], now: number) {
  if (succeeded.length === 0) return 0;
  // Records written before deliveries were recorded name no job: theirs is `res-<custom_id>`.
  const named = succeeded.map((s) => s.rec.delivery || jobIds.result(s.cid));
  const distinct = [...new Set(named)];
  const missing = await missingJobIds(ctx.queues.results, distinct);
  const gone = new Set(distinct.filter((_, i) => missing[i]));
  const lost = succeeded.filter((_, i) => gone.has(named[i]!));
  let added = 0;
  for (let i = 0; i < lost.length; i += ctx.opts.resultsPerJob) {
    const part = lost.slice(i, i + ctx.opts.resultsPerJob);
    const id = jobIds.results(
      batchId,
      part.map((s) => s.cid),
    );
    const moved = await ctx.store.outcomes.redeliver(
      id,
      part.map((s) => ({ cid: s.cid, from: s.rec.delivery })),
    );
    const results = part
      .filter((_, j) => moved[j])
      .map((s) => successOf(ctx, s.cid, s.rec, s.message, batchId, now).payload);
    await deliverResults(ctx.queues.results, [{ id, results }], {
      keepCompleted: results.length > 0 && (await resultsWantedByWebhooks(ctx.store)),
    });
    added += results.length;
  }
  return added;
}

/** Dead letters of deaths this batch applied whose `dead-<custom_id>-<n>` job is gone. */
async function lostDeadLetters(ctx: Ctx, batchId: string, dead: AppliedDeath[]) {
  const ids = dead.map((d) => jobIds.deadLetter(d.cid, Number(d.rec.deaths) || 1));
  const missing = await missingJobIds(ctx.queues.deadLetters, ids);
  const candidates = dead.filter((_, i) => missing[i]);
  if (candidates.length === 0) return [];
  const extra = await ctx.store.records.peek(
    candidates.map((d) => d.cid),
    ['params', 'history', 'reason', 'lastError', 'completedAt'],
  );
  const out: { payload: DeadLetterPayload; deaths: number }[] = [];
  candidates.forEach((d, i) => {
    const x = extra[i];
    const hist = parseJson<AttemptRecord[]>(x?.history, []);
    // Only the death this batch caused: a later death elsewhere has its own job and its own batch.
    if (!x || hist.at(-1)?.batchId !== batchId) return;
    out.push({
      deaths: Number(d.rec.deaths) || 1,
      // The history already ends with this death: no entry to append.
      payload: deadLetterPayload(
        {
          customId: d.cid,
          feature: d.rec.feature,
          model: d.rec.model,
          params: x.params,
          metadata: d.rec.metadata,
          history: x.history,
        },
        {
          reason: x.reason ?? '',
          lastError: parseJson(x.lastError, null),
          batchId,
          deadAt: Number(x.completedAt) || ctx.now(),
        },
      ),
    });
  });
  return out;
}
