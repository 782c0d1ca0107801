import { isCompacted } from '@nightshift/store';
import { ATTR, inSpan, SPANS } from '@nightshift/telemetry';
import { raiseAlert } from './alerts.js';
import { applyEffects, type Decided } from './apply.js';
import { type BatchScope, decide, PEEK_FIELDS, type PeekedRecord, type ResultLine } from './decide.js';
import { runRealtime } from './realtime.js';
import { type AppliedDeath, type AppliedSuccess, repairApplied } from './repair.js';
import type { ApplyCounts, Ctx } from './types.js';

/** Chunks applied at once. Chunks are independent (distinct custom_ids), so they may overlap. */
const MAX_IN_FLIGHT = 2;

/**
 * Streams a batch's results once and applies them chunk by chunk, in constant memory: at most
 * MAX_IN_FLIGHT chunks are being applied while the next one is read. Lines are independent (one
 * custom_id each), so their order does not matter and a re-stream after a crash is harmless.
 *
 * Throws on any failure (stream cut, Redis error, close()) once the chunks in flight have settled;
 * the caller retries the whole stream.
 */
export async function streamResults(ctx: Ctx, scope: BatchScope, counts: ApplyCounts): Promise<void> {
  // The SDK leaves its abort listener on the signal of a results stream until the body is garbage
  // collected (it releases it for parsed responses only): a signal of our own per stream keeps the
  // collector's long-lived one free of them (Node warns at 11).
  const stream = new AbortController();
  const follow = () => stream.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', follow, { once: true });
  if (ctx.signal.aborted) follow();
  try {
    await applyStream(ctx, scope, counts, stream.signal);
  } finally {
    ctx.signal.removeEventListener('abort', follow);
  }
}

async function applyStream(ctx: Ctx, scope: BatchScope, counts: ApplyCounts, signal: AbortSignal) {
  const decoder = await ctx.client.messages.batches.results(
    scope.batchId,
    {},
    { timeout: ctx.opts.requestTimeoutMs, signal },
  );
  let chunk: ResultLine[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  // The SDK's timeout ends when the headers arrive; a body that stops flowing would hold the batch
  // for ever. The watchdog aborts a stream that delivers nothing for requestTimeoutMs while we read.
  const watch = { lastLine: Date.now(), reading: true, stalled: false };
  const watchdog = setInterval(
    () => {
      if (watch.reading && Date.now() - watch.lastLine > ctx.opts.requestTimeoutMs) {
        watch.stalled = true;
        decoder.controller.abort();
      }
    },
    Math.max(50, Math.min(5_000, ctx.opts.requestTimeoutMs / 4)),
  );
  watchdog.unref();
  const hand = async (lines: ResultLine[]) => {
    watch.reading = false;
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure.err;
    if (ctx.signal.aborted) throw new Error('collector closing');
    const p: Promise<void> = applyChunk(ctx, scope, lines, counts).then(
      () => void inFlight.delete(p),
      (err: unknown) => {
        inFlight.delete(p);
        failure ??= { err };
      },
    );
    inFlight.add(p);
    watch.lastLine = Date.now();
    watch.reading = true;
  };
  try {
    for await (const line of decoder) {
      watch.lastLine = Date.now();
      chunk.push(line);
      if (chunk.length >= ctx.opts.chunkSize) {
        await hand(chunk);
        chunk = [];
      }
    }
    if (chunk.length) await hand(chunk);
    await Promise.all(inFlight);
    if (failure) throw failure.err;
  } catch (err) {
    decoder.controller.abort();
    // Let the chunks being applied settle before the job is handed back, so no two passes overlap.
    await Promise.all(inFlight);
    if (watch.stalled)
      throw new Error(`results stream of ${scope.batchId} stalled after ${counts.lines} lines`);
    throw err;
  } finally {
    clearInterval(watchdog);
  }
}

/** One chunk in its apply span (the poll span's child); the `{results}` jobs it adds carry its context. */
function applyChunk(ctx: Ctx, scope: BatchScope, lines: ResultLine[], counts: ApplyCounts) {
  const started = performance.now();
  const attributes = { [ATTR.batchId]: scope.batchId, [ATTR.lines]: lines.length };
  return inSpan(SPANS.apply, { attributes }, async () => {
    await decideAndApply(ctx, scope, lines, counts);
    ctx.emit('results:chunk', {
      batchId: scope.batchId,
      lines: lines.length,
      durationMs: performance.now() - started,
    });
  });
}

/** (1) read the records, (2) decide per line, then apply the effects: (3) add jobs, (4) the apply script. */
async function decideAndApply(ctx: Ctx, scope: BatchScope, lines: ResultLine[], counts: ApplyCounts) {
  const cids = lines.map((l) => String(l?.custom_id ?? ''));
  const recs = await ctx.store.records.peekMany(cids, [...PEEK_FIELDS]);
  const now = ctx.now();
  const decided: Decided[] = [];
  const unknown: string[] = [];
  const applied = { succeeded: [] as AppliedSuccess[], dead: [] as AppliedDeath[] };
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
    else {
      counts[verdict.why]++;
      noteApplied(line, cids[i]!, rec!, scope, applied);
    }
  }
  if (unknown.length) await onUnknown(ctx, scope.batchId, unknown, counts, now);
  const origin = { batchId: scope.batchId, guardSub: scope.subId };
  await runRealtime(ctx, await applyEffects(ctx, origin, decided, counts, now));
  if (applied.succeeded.length || applied.dead.length) {
    await repairApplied(ctx, scope.batchId, applied.succeeded, applied.dead, now);
  }
}

/**
 * A line whose effect is already in the record (a re-stream): a success this batch delivered, or a
 * failure of a record that is dead. Their jobs are checked by `repairApplied`.
 */
function noteApplied(
  line: ResultLine,
  cid: string,
  rec: PeekedRecord,
  scope: BatchScope,
  applied: { succeeded: AppliedSuccess[]; dead: AppliedDeath[] },
) {
  const result = line?.result;
  if (result?.type === 'succeeded') {
    // A compacted record was delivered already: nothing of it to repair.
    if (rec.state === 'succeeded' && rec.batchId === scope.batchId && !isCompacted(rec))
      applied.succeeded.push({ cid, rec, message: result.message });
  } else if (rec.state === 'dead' && !scope.onlySuccesses) {
    applied.dead.push({ cid, rec });
  }
}

async function onUnknown(ctx: Ctx, batchId: string, cids: string[], counts: ApplyCounts, now: number) {
  counts.unknown += cids.length;
  await ctx.store.stats.bump('unknown_custom_ids', cids.length);
  ctx.log.warn(
    { batchId, count: cids.length, sample: cids.slice(0, 5) },
    'result lines whose custom_id is not a record of ours (counted, skipped)',
  );
  const alert = {
    code: 'unknown-custom-ids' as const,
    batchId,
    message: `Batch ${batchId} returned results for custom_ids that are not ours (see stats.unknown_custom_ids).`,
  };
  await raiseAlert(ctx, alert, now);
}
