import type { DeadLetterPayload } from '@nightshift/shared';
import { openQueue } from '@nightshift/store';
import { type CliContext, UsageError } from '../context.js';
import { ago, printRows } from '../format.js';

/** Lists dead letters (the waiting jobs of `{dead-letters}`). */
export async function deadLetters(ctx: CliContext, limit: number): Promise<number> {
  const q = openQueue<DeadLetterPayload>('deadLetters', ctx.redis, ctx.config.prefix);
  try {
    const jobs = await q.getJobs(['waiting'], 0, limit - 1, true);
    const rows = jobs.map((j) => ({
      customId: j.data.customId,
      feature: j.data.feature,
      reason: j.data.reason,
      lastError: j.data.lastError,
      attempts: j.data.attempts.length,
      deadAt: j.data.deadAt,
    }));
    printRows(ctx, rows, (r) => ({ ...r, lastError: r.lastError?.type ?? '', deadAt: ago(r.deadAt) }));
    return 0;
  } finally {
    await q.close();
  }
}

/** Sends dead letters back to the queue: the given custom_ids, or all with `--all`. */
export async function retryDead(ctx: CliContext, ids: string[], all: boolean): Promise<number> {
  if (!all && ids.length === 0) throw new UsageError('retry-dead needs custom_ids, or --all');
  const q = openQueue<DeadLetterPayload>('deadLetters', ctx.redis, ctx.config.prefix);
  try {
    const jobs = await q.getJobs(['waiting'], 0, -1, true);
    const wanted = all ? jobs : jobs.filter((j) => ids.includes(j.data.customId));
    const unknown = all ? [] : ids.filter((id) => !jobs.some((j) => j.data.customId === id));
    const cids = [...new Set(wanted.map((j) => j.data.customId))];
    const codes = await ctx.store.outcomes.retryDead(cids);
    const retried = cids.filter((_, i) => codes[i]?.code === 'ok');
    for (const j of wanted) if (retried.includes(j.data.customId)) await j.remove();
    const result = { retried, skipped: cids.filter((_, i) => codes[i]?.code !== 'ok'), unknown };
    if (ctx.json) ctx.out(JSON.stringify(result, null, 2));
    else {
      ctx.out(`Retried ${retried.length} dead letter(s).`);
      if (unknown.length) ctx.err(`No dead letter for: ${unknown.join(', ')}`);
    }
    return unknown.length ? 1 : 0;
  } finally {
    await q.close();
  }
}
