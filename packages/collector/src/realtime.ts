import {
  circuitFor,
  classifyApiError,
  describeFailure,
  type MessageParams,
  parseJson,
  realtimeAction,
} from '@nightshift/shared';
import { applyEffects, stopSubmissions } from './apply.js';
import { PEEK_FIELDS, type PeekedRecord, type Verdict } from './decide.js';
import { type Ctx, emptyCounts } from './types.js';

/** Real-time calls made at once (they are rare: only requests whose deadline a batch cannot meet). */
const CONCURRENCY = 4;

/**
 * Sends requests that are in the `realtime` state through `messages.create` (list price) and applies
 * the answer: a success is delivered like a batch result (mode 'realtime'); an answer that says the
 * request is wrong dead-letters it (`realtimeAction`, shared with the producer). An account or
 * billing refusal stops submissions and, like anything transient, leaves the request in `realtime`,
 * where the sweep finds it again once it is older than `realtimeStaleMs` (and the circuit is
 * closed). Returns how many were attempted.
 */
export async function runRealtime(ctx: Ctx, cids: string[], opts: { probe?: boolean } = {}): Promise<number> {
  let attempted = 0;
  for (let i = 0; i < cids.length && !ctx.signal.aborted; i += CONCURRENCY) {
    const slice = cids.slice(i, i + CONCURRENCY);
    const recs = await ctx.store.records.peek(slice, [...PEEK_FIELDS, 'params']);
    await Promise.all(
      slice.map(async (cid, j) => {
        const rec = recs[j];
        if (rec?.state !== 'realtime') return;
        attempted++;
        try {
          if ((await realtimeOne(ctx, cid, rec)) && opts.probe && (await ctx.store.circuit.close())) {
            ctx.log.info({ customId: cid }, 'circuit closed: a real-time probe call was answered');
          }
        } catch (err) {
          ctx.reportError(err, `real-time call for ${cid}`);
        }
      }),
    );
  }
  return attempted;
}

/** One call; resolves true when the API answered it. */
async function realtimeOne(ctx: Ctx, cid: string, rec: PeekedRecord & { params: string }): Promise<boolean> {
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
    const failure = classifyApiError(err);
    const error = describeFailure(failure);
    const action = params ? realtimeAction(failure) : 'dead';
    if (action !== 'dead') {
      if (action === 'stop-submissions')
        await stopSubmissions(ctx, circuitFor(failure), `real-time call for ${cid}`, ctx.now());
      ctx.log.warn({ customId: cid, err: error }, 'real-time call failed; the sweep retries it');
      return false;
    }
    verdict = {
      kind: 'dead',
      reason: error.type,
      error,
      entry: {
        attempt,
        batchId: null,
        outcome: 'errored',
        errorType: error.type,
        ...(error.code ? { errorCode: error.code } : {}),
        message: error.message,
        at: ctx.now(),
      },
    };
  }
  await applyEffects(
    ctx,
    { batchId: null, guardSub: 'realtime' },
    [{ cid, rec, verdict }],
    emptyCounts(),
    ctx.now(),
  );
  return verdict.kind === 'success';
}
