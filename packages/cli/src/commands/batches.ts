import { parseJson } from '@nightshift/shared';
import type { CliContext } from '../context.js';
import { ago, printRows } from '../format.js';

/** Known batches, newest first, with their request counts and outcome counts. */
export async function batches(ctx: CliContext, limit: number): Promise<number> {
  const list = await ctx.store.batches.list(limit);
  const rows = list.map((b) => ({
    id: b.id,
    state: b.state,
    status: b.status,
    requests: Number(b.count),
    reason: b.reason,
    submitted: Number(b.submitted),
    counts: parseJson<Record<string, number> | null>(b.counts, null),
    origin: b.origin || null,
  }));
  const fmtCounts = (c: Record<string, number> | null) =>
    c
      ? Object.entries(c)
          .filter(([, v]) => v)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : '';
  printRows(ctx, rows, (r) => ({
    ...r,
    submitted: ago(r.submitted),
    counts: fmtCounts(r.counts),
    origin: r.origin ?? '',
  }));
  return 0;
}
