import {
  type AttemptRecord,
  type DeadLetterPayload,
  jobIds,
  type Message,
  type MessageParams,
  type RecordFields,
} from '@nightshift/shared';
import { addDeadLetters, buildSuccess, deliverResults } from '@nightshift/store';
import type { PeekedRecord } from './decide.js';
import { parseJson } from './execute.js';
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
 * Puts back the jobs of effects a Redis lost while keeping the apply that followed them.
 *
 * A chunk's `{results}` / `{dead-letters}` jobs are added before the guarded apply. When Redis loses
 * its last acknowledged writes (an OS crash under `appendfsync everysec`, a failover to a replica
 * that lagged) while a collector is between the two, the collector carries on after the restart:
 * the apply lands, the job add does not, and the record is final without its job: a paid result
 * that never reaches the service. Found by the chaos suite (bench/chaos, scenario redis-everysec).
 *
 * A pass that saw Redis reconnect is redone (see `collect`), and on that re-stream the lines of
 * records this batch already finalized come here: the jobs that are missing are added again (ids are
 * deterministic, so a job that exists is never duplicated). Returns how many jobs were re-added.
 */
export async function repairApplied(
  ctx: Ctx,
  batchId: string,
  succeeded: AppliedSuccess[],
  dead: AppliedDeath[],
  now: number,
): Promise<number> {
  const results = await missingJobs(
    ctx,
    ctx.queues.results.toKey(''),
    succeeded.map((s) => jobIds.result(s.cid)),
  );
  const payloads = succeeded
    .filter((_, i) => results[i])
    .map(
      (s) =>
        buildSuccess({
          customId: s.cid,
          feature: s.rec.feature,
          metadata: parseJson(s.rec.meta, null),
          model: s.rec.model,
          message: s.message,
          mode: 'batch',
          batchId,
          attempt: Number(s.rec.attempt) || 1,
          prices: ctx.opts.prices,
          now,
        }).payload,
    );
  await deliverResults(ctx.queues.results, payloads);
  const letters = await lostDeadLetters(ctx, batchId, dead);
  await addDeadLetters(ctx.queues.deadLetters, letters);
  const added = payloads.length + letters.length;
  if (added) {
    ctx.log.warn(
      { batchId, results: payloads.length, deadLetters: letters.length },
      'jobs of applied results were missing (Redis lost writes): added again',
    );
  }
  return added;
}

/** For each job id: true when its job hash does not exist. */
async function missingJobs(ctx: Ctx, base: string, ids: string[]): Promise<boolean[]> {
  if (ids.length === 0) return [];
  const pipe = ctx.store.redis.pipeline();
  for (const id of ids) pipe.exists(`${base}${id}`);
  const replies = (await pipe.exec()) ?? [];
  return replies.map(([err, n]) => {
    if (err) throw err;
    return Number(n) === 0;
  });
}

/** Dead letters of deaths this batch applied whose `dead-<custom_id>-<n>` job is gone. */
async function lostDeadLetters(ctx: Ctx, batchId: string, dead: AppliedDeath[]) {
  const ids = dead.map((d) => jobIds.deadLetter(d.cid, Number(d.rec.deaths) || 1));
  const missing = await missingJobs(ctx, ctx.queues.deadLetters.toKey(''), ids);
  const candidates = dead.filter((_, i) => missing[i]);
  if (candidates.length === 0) return [];
  // `reason` is written by the apply script next to the record fields of the type.
  const fields = ['params', 'hist', 'reason', 'err', 'done'] as (keyof RecordFields)[];
  const extra = await ctx.store.peek(
    candidates.map((d) => d.cid),
    fields,
  );
  const out: { payload: DeadLetterPayload; deaths: number }[] = [];
  candidates.forEach((d, i) => {
    const x = extra[i] as unknown as Record<'params' | 'hist' | 'reason' | 'err' | 'done', string> | null;
    const hist = parseJson<AttemptRecord[]>(x?.hist, []);
    // Only the death this batch caused: a later death elsewhere has its own job and its own batch.
    if (!x || hist.at(-1)?.batchId !== batchId) return;
    out.push({
      deaths: Number(d.rec.deaths) || 1,
      payload: {
        customId: d.cid,
        feature: d.rec.feature,
        model: d.rec.model,
        reason: x.reason ?? '',
        lastError: parseJson(x.err, null),
        attempts: hist,
        batchId,
        params: parseJson<MessageParams>(x.params, null as unknown as MessageParams),
        metadata: parseJson(d.rec.meta, null),
        deadAt: Number(x.done) || ctx.now(),
      },
    });
  });
  return out;
}
