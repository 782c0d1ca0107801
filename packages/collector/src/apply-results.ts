import { type BatchScope, decide, PEEK_FIELDS, type ResultLine } from './decide.js';
import { type Decided, execute } from './execute.js';
import type { ApplyCounts, Ctx } from './types.js';

/**
 * Streams a batch's results once and applies them chunk by chunk, in constant memory: at most two
 * chunks exist at a time (the one being applied and the one being read). Lines are independent
 * (one custom_id each), so their order does not matter and a re-stream after a crash is harmless.
 *
 * Throws on any failure (stream cut, Redis error, close()); the caller retries the whole stream.
 */
export async function streamResults(ctx: Ctx, scope: BatchScope, counts: ApplyCounts): Promise<void> {
  const decoder = await ctx.client.messages.batches.results(
    scope.batchId,
    {},
    { timeout: ctx.opts.requestTimeoutMs, signal: ctx.signal },
  );
  let chunk: ResultLine[] = [];
  let inFlight: Promise<void> | undefined;
  let failure: { err: unknown } | undefined;
  // Applying chunk N overlaps with reading and parsing chunk N + 1.
  const hand = async (lines: ResultLine[]) => {
    if (inFlight) await inFlight;
    if (failure) throw failure.err;
    if (ctx.signal.aborted) throw new Error('collector closing');
    inFlight = applyChunk(ctx, scope, lines, counts).catch((err: unknown) => {
      failure = { err };
    });
  };
  try {
    for await (const line of decoder) {
      chunk.push(line);
      if (chunk.length >= ctx.opts.chunkSize) {
        await hand(chunk);
        chunk = [];
      }
    }
    if (chunk.length) await hand(chunk);
    if (inFlight) await inFlight;
    if (failure) throw failure.err;
  } catch (err) {
    decoder.controller.abort();
    // Let the chunk being applied settle before the job is handed back, so no two passes overlap.
    await inFlight;
    throw err;
  }
}

/** (1) read the records, (2) decide per line, then execute: (3) add jobs, (4) apply. */
async function applyChunk(ctx: Ctx, scope: BatchScope, lines: ResultLine[], counts: ApplyCounts) {
  const cids = lines.map((l) => String(l?.custom_id ?? ''));
  const recs = await ctx.store.peek(cids, [...PEEK_FIELDS]);
  const now = ctx.now();
  const decided: Decided[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const rec = recs[i] ?? null;
    counts.lines++;
    const type = line?.result?.type;
    if (type === 'succeeded' || type === 'errored' || type === 'expired' || type === 'canceled')
      counts[type]++;
    const verdict = decide(line, rec, scope, ctx.opts, now);
    if (verdict.kind !== 'skip') decided.push({ cid: cids[i]!, rec: rec!, verdict });
    else if (verdict.why === 'unknown') unknown.push(cids[i]!);
    else counts[verdict.why]++;
  }
  if (unknown.length) await onUnknown(ctx, scope.batchId, unknown, counts, now);
  await execute(ctx, { batchId: scope.batchId, guardSub: scope.subId }, decided, counts, now);
}

async function onUnknown(ctx: Ctx, batchId: string, cids: string[], counts: ApplyCounts, now: number) {
  counts.unknown += cids.length;
  await ctx.store.bumpStat('unknown_custom_ids', cids.length);
  ctx.log.warn(
    { batchId, count: cids.length, sample: cids.slice(0, 5) },
    'result lines whose custom_id is not a record of ours (counted, skipped)',
  );
  const alert = {
    code: 'unknown-custom-ids' as const,
    batchId,
    message: `Batch ${batchId} returned results for custom_ids that are not ours (see stats.unknown_custom_ids).`,
  };
  if (await ctx.store.raiseAlert(alert, now)) ctx.emit('alert', { ...alert, since: now });
}
