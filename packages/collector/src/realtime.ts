import type { MessageParams } from '@nightshift/shared';
import { PEEK_FIELDS, type PeekedRecord, type Verdict } from './decide.js';
import { describeError, isDefinitive } from './errors.js';
import { execute, parseJson } from './execute.js';
import { type Ctx, emptyCounts } from './types.js';

/** Real-time calls made at once (they are rare: only requests whose deadline a batch cannot meet). */
const CONCURRENCY = 4;

/**
 * Sends requests that are in the `realtime` state through `messages.create` (list price) and applies
 * the answer: a success is delivered like a batch result (mode 'realtime'); an answer that says the
 * request is wrong dead-letters it. Anything transient leaves the request in `realtime`, where the
 * sweep finds it again once it is older than `realtimeStaleMs`. Returns how many were attempted.
 */
export async function runRealtime(ctx: Ctx, cids: string[]): Promise<number> {
  let attempted = 0;
  for (let i = 0; i < cids.length && !ctx.signal.aborted; i += CONCURRENCY) {
    const slice = cids.slice(i, i + CONCURRENCY);
    const recs = await ctx.store.peek(slice, [...PEEK_FIELDS, 'params']);
    await Promise.all(
      slice.map(async (cid, j) => {
        const rec = recs[j];
        if (rec?.state !== 'realtime') return;
        attempted++;
        try {
          await realtimeOne(ctx, cid, rec);
        } catch (err) {
          ctx.reportError(err, `real-time call for ${cid}`);
        }
      }),
    );
  }
  return attempted;
}

async function realtimeOne(ctx: Ctx, cid: string, rec: PeekedRecord & { params: string }) {
  const attempt = Number(rec.attempt) || 1;
  const params = parseJson<MessageParams | null>(rec.params, null);
  let verdict: Exclude<Verdict, { kind: 'skip' }>;
  try {
    if (!params) throw new Error(`stored params of ${cid} are not valid JSON`);
    const message = await ctx.client.messages.create(params, {
      timeout: ctx.opts.realtimeTimeoutMs,
      signal: ctx.signal,
    });
    verdict = { kind: 'success', message };
  } catch (err) {
    if (params && !isDefinitive(err)) {
      ctx.log.warn({ customId: cid, err: describeError(err) }, 'real-time call failed; the sweep retries it');
      return;
    }
    const error = describeError(err);
    verdict = {
      kind: 'dead',
      reason: error.type,
      error,
      entry: {
        attempt,
        batchId: null,
        outcome: 'errored',
        errorType: error.type,
        message: error.message,
        at: ctx.now(),
      },
    };
  }
  await execute(
    ctx,
    { batchId: null, guardSub: 'realtime' },
    [{ cid, rec, verdict }],
    emptyCounts(),
    ctx.now(),
  );
}
