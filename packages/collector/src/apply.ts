import { type CircuitOpening, jobIds, type Message, parseJson, type ResultPayload } from '@nightshift/shared';
import {
  type ApplyItem,
  type ApplyResult,
  addDeadLetters,
  buildSuccess,
  deadLetterPayload,
  deliverResults,
  type ResultJob,
  resultsWantedByWebhooks,
} from '@nightshift/store';
import { activeTraceparent } from '@nightshift/telemetry';
import type { PeekedRecord, Verdict } from './decide.js';
import type { ApplyCounts, Ctx } from './types.js';
import { logUsage, type UsageSource } from './usage.js';

/** A request with a decided effect (skips are counted by the caller and never get here). */
export interface Decided {
  cid: string;
  rec: PeekedRecord;
  verdict: Exclude<Verdict, { kind: 'skip' }>;
}

/** Where the effects come from: the batch (null on the real-time path) and the submission guard. */
export interface Origin {
  batchId: string | null;
  guardSub: string;
}

/** What happens after the apply script answered for one item. */
type Post =
  | { kind: 'success'; usage: UsageSource; enqueuedAt: number }
  | { kind: 'dead'; jobId: string; reason: string; deaths: number; feature: string; enqueuedAt: number }
  | { kind: 'requeue'; d: Decided; readyAt: number; countsAttempt: boolean; refusal: CircuitOpening | null }
  | { kind: 'realtime' };

/**
 * Carries out decided effects in the documented order (ARCHITECTURE.md, "Exactly-once effect"):
 * dead-letter jobs (deterministic ids) are added first, then the guarded apply script runs once for
 * the whole chunk, then the `{results}` jobs are added with the results it applied. A batch's
 * results are grouped `resultsPerJob` to a job, and each record names its job (`dlv`) in the same
 * script that makes it succeed: a crash before the jobs exist is repaired on the re-stream
 * (`repairApplied`), and a job only ever hands the service the results whose record names it.
 * A real-time answer (one result) is added first under `res-<custom_id>`, like a dead letter:
 * the call is not repeated on a re-stream, so its result must not wait for the apply.
 * Resolves to the custom_ids the apply moved to `realtime` (a deadline a batch can no longer meet):
 * the caller makes their calls next (`runRealtime`; the sweep retries any left stale).
 */
export async function applyEffects(
  ctx: Ctx,
  origin: Origin,
  decided: Decided[],
  counts: ApplyCounts,
  now: number,
): Promise<string[]> {
  if (decided.length === 0) return [];
  const items: ApplyItem[] = [];
  const posts: Post[] = [];
  const results: ResultPayload[] = [];
  const dead: Decided[] = [];
  for (const d of decided) {
    const item = toItem(ctx, origin, d, now, posts, results);
    items.push(item);
    if (d.verdict.kind === 'dead') dead.push(d);
  }
  const jobs = groupResults(ctx, origin.batchId, items, results);
  // The apply span's context (when traced): each delivery of these results links to it.
  const trace = activeTraceparent();
  if (trace) for (const j of jobs) j.trace = trace;
  const deadLetters = dead.length ? await buildDeadLetters(ctx, origin.batchId, dead, now) : [];
  // Completed result jobs are removed at once, unless a webhook wants their text (kept a day).
  const keep = { keepCompleted: jobs.length > 0 && (await resultsWantedByWebhooks(ctx.store)) };
  await Promise.all([
    origin.batchId === null ? deliverResults(ctx.queues.results, jobs, keep) : undefined,
    addDeadLetters(ctx.queues.deadLetters, deadLetters),
  ]);
  deadLetters.length = 0;
  const codes = await ctx.store.outcomes.apply(items, now);
  if (origin.batchId !== null)
    await deliverResults(ctx.queues.results, appliedOnly(jobs, items, codes), keep);
  return afterApply(ctx, origin, items, posts, codes, counts, now);
}

/**
 * The `{results}` jobs of a chunk's successes: `resultsPerJob` batch results per job (the apply
 * items are pointed at their job), or each real-time answer in its own `res-<custom_id>` job.
 */
function groupResults(
  ctx: Ctx,
  batchId: string | null,
  items: ApplyItem[],
  results: ResultPayload[],
): ResultJob[] {
  if (batchId === null) return results.map((r) => ({ id: jobIds.result(r.customId), results: [r] }));
  const successes = items.filter((it) => it.action === 'success');
  const jobs: ResultJob[] = [];
  for (let i = 0; i < results.length; i += ctx.opts.resultsPerJob) {
    const part = results.slice(i, i + ctx.opts.resultsPerJob);
    const id = jobIds.results(
      batchId,
      part.map((r) => r.customId),
    );
    for (const it of successes.slice(i, i + part.length)) it.delivery = id;
    jobs.push({ id, results: part });
  }
  return jobs;
}

/** The jobs with only the results the apply script accepted ('ok'): the others are delivered already. */
function appliedOnly(jobs: ResultJob[], items: ApplyItem[], codes: ApplyResult[]): ResultJob[] {
  const ok = new Set<string>();
  items.forEach((it, i) => {
    if (it.action === 'success' && codes[i]?.code === 'ok') ok.add(it.cid);
  });
  return jobs.map((j) => ({ ...j, results: j.results.filter((r) => ok.has(r.customId)) }));
}

/** Both halves of a success (see `buildSuccess`) from the record's fields; batchId null: real-time. */
export function successOf(
  ctx: Ctx,
  cid: string,
  rec: PeekedRecord,
  message: Message,
  batchId: string | null,
  now: number,
) {
  return buildSuccess({
    customId: cid,
    feature: rec.feature,
    metadata: parseJson(rec.metadata, null),
    model: rec.model,
    message,
    mode: batchId === null ? 'realtime' : 'batch',
    batchId,
    attempt: Number(rec.attempt) || 1,
    prices: ctx.opts.prices,
    now,
  });
}

function toItem(
  ctx: Ctx,
  origin: Origin,
  d: Decided,
  now: number,
  posts: Post[],
  results: ResultPayload[],
): ApplyItem {
  const { cid, rec, verdict: v } = d;
  switch (v.kind) {
    case 'success': {
      const built = successOf(ctx, cid, rec, v.message, origin.batchId, now);
      results.push(built.payload);
      const { feature, model, mode, usage, cost } = built.payload;
      posts.push({
        kind: 'success',
        usage: { feature, model, mode, usage, cost },
        enqueuedAt: Number(rec.enqueuedAt) || 0,
      });
      return built.item;
    }
    case 'requeue': {
      posts.push({
        kind: 'requeue',
        d,
        readyAt: v.readyAt,
        countsAttempt: v.countsAttempt,
        refusal: v.refusal ?? null,
      });
      return {
        cid,
        action: 'requeue',
        guardSub: origin.guardSub,
        readyAt: v.readyAt,
        error: v.error,
        entry: v.entry,
        countsAttempt: v.countsAttempt,
      };
    }
    case 'dead': {
      const deaths = (Number(rec.deaths) || 0) + 1;
      const jobId = jobIds.deadLetter(cid, deaths);
      posts.push({
        kind: 'dead',
        jobId,
        reason: v.reason,
        deaths,
        feature: rec.feature,
        enqueuedAt: Number(rec.enqueuedAt) || 0,
      });
      return {
        cid,
        action: 'dead',
        guardSub: origin.guardSub,
        reason: v.reason,
        error: v.error,
        entry: v.entry,
      };
    }
    case 'realtime':
      posts.push({ kind: 'realtime' });
      return { cid, action: 'realtime', guardSub: origin.guardSub, entry: v.entry };
  }
}

/** Dead-letter payloads: the params and history are read only for the requests that die. */
async function buildDeadLetters(ctx: Ctx, batchId: string | null, dead: Decided[], now: number) {
  const extra = await ctx.store.records.peek(
    dead.map((d) => d.cid),
    ['params', 'history'],
  );
  return dead.map((d, i) => {
    const v = d.verdict as Extract<Verdict, { kind: 'dead' }>;
    const source = { customId: d.cid, feature: d.rec.feature, model: d.rec.model, metadata: d.rec.metadata };
    const payload = deadLetterPayload(
      { ...source, params: extra[i]?.params, history: extra[i]?.history },
      { reason: v.reason, lastError: v.error, entry: v.entry, batchId, deadAt: now },
    );
    return { payload, deaths: (Number(d.rec.deaths) || 0) + 1 };
  });
}

/** Follow-up work gathered while reading the apply script's answers. */
interface FollowUp {
  staleDead: { cid: string; jobId: string; deaths: number }[];
  /** Models of applied successes the price table lacks (counted at $0): alerted. */
  unpriced: Set<string>;
  realtime: string[];
  refusal: CircuitOpening | null;
}

async function afterApply(
  ctx: Ctx,
  origin: Origin,
  items: ApplyItem[],
  posts: Post[],
  codes: ApplyResult[],
  counts: ApplyCounts,
  now: number,
): Promise<string[]> {
  const f: FollowUp = { staleDead: [], unpriced: new Set(), realtime: [], refusal: null };
  for (let i = 0; i < items.length; i++) {
    settle(ctx, origin, items[i]!.cid, posts[i]!, codes[i]?.code ?? 'unknown', counts, f, now);
  }
  await removeStaleDeadLetters(ctx, f.staleDead);
  for (const model of f.unpriced) {
    if (await ctx.modelAlerts.unpriced(model))
      ctx.log.warn({ model }, 'results of a model without a price: counted at $0');
  }
  if (f.refusal)
    await stopSubmissions(ctx, f.refusal, `results of ${origin.batchId ?? 'a real-time call'}`, now);
  return f.realtime;
}

/** Counts one item's answer and notes what must follow (events are emitted here). */
function settle(
  ctx: Ctx,
  origin: Origin,
  cid: string,
  post: Post,
  code: ApplyResult['code'],
  counts: ApplyCounts,
  f: FollowUp,
  now: number,
) {
  if (code === 'unknown') {
    counts.unknown++;
    return;
  }
  switch (post.kind) {
    case 'success':
      if (code === 'ok') {
        counts.delivered++;
        ctx.instruments?.settled(post.usage.feature, 'succeeded', post.enqueuedAt, now);
        if (post.usage.cost.unpriced) f.unpriced.add(post.usage.model);
        if (ctx.opts.logUsage) logUsage(ctx.log, post.usage);
      } else {
        // Applied before (a re-stream, a duplicate batch) or dead meanwhile: no job of ours names it.
        counts.duplicate++;
      }
      return;
    case 'requeue':
      if (code !== 'ok') {
        counts.stale++;
        return;
      }
      if (post.countsAttempt) counts.requeued++;
      else counts.held++;
      // One refusal per chunk opens the circuit; billing wins over account (its probes wait longer).
      if (post.refusal && (!f.refusal || post.refusal.kind === 'billing')) f.refusal = post.refusal;
      ctx.emit('item:requeued', {
        customId: cid,
        batchId: origin.batchId,
        attempt: (Number(post.d.rec.attempt) || 1) + (post.countsAttempt ? 1 : 0),
        outcome: post.d.verdict.kind === 'requeue' ? post.d.verdict.entry.outcome : 'errored',
        readyAt: post.readyAt,
      });
      return;
    case 'dead':
      if (code === 'ok') {
        counts.dead++;
        ctx.instruments?.settled(post.feature, 'dead', post.enqueuedAt, now);
        ctx.emit('item:dead', { customId: cid, batchId: origin.batchId, reason: post.reason });
      } else {
        counts.stale++;
        f.staleDead.push({ cid, jobId: post.jobId, deaths: post.deaths });
      }
      return;
    case 'realtime':
      if (code === 'ok') {
        counts.realtime++;
        f.realtime.push(cid);
      } else counts.stale++;
      return;
  }
}

/**
 * A dead verdict the apply script refused (the record moved on after our read) added a dead-letter
 * job that must not stay, unless the record did die, as the very death that job id names: then
 * another pass over the same result (a second collector holding the batch after its lock expired,
 * e.g. across a Redis restart) applied it first, and the job is that death's dead letter.
 */
async function removeStaleDeadLetters(ctx: Ctx, stale: { cid: string; jobId: string; deaths: number }[]) {
  if (stale.length === 0) return;
  const now = await ctx.store.records.peek(
    stale.map((s) => s.cid),
    ['state', 'deaths'],
  );
  await Promise.all(
    stale.map((s, i) => {
      const rec = now[i];
      const same = rec?.state === 'dead' && Number(rec.deaths) === s.deaths;
      return same ? undefined : ctx.queues.deadLetters.remove(s.jobId);
    }),
  );
}

/**
 * An account or billing refusal in results or a real-time answer: the requests it held stay queued
 * (no attempt spent) and submissions stop until a probe or `nightshift circuit close`.
 */
export async function stopSubmissions(ctx: Ctx, refusal: CircuitOpening, where: string, now: number) {
  const { opened, until } = await ctx.store.circuit.open(
    { ...refusal, cooldownMs: ctx.opts.circuitCooldownMs, maxCooldownMs: ctx.opts.circuitMaxCooldownMs },
    now,
  );
  if (!opened) return;
  ctx.log.error(
    { where, kind: refusal.kind, errorCode: refusal.code, reason: refusal.reason, fix: refusal.fix, until },
    'the API refused the account or billing: submissions stopped, affected requests kept queued',
  );
  const alert = (await ctx.store.alerts.list()).find((a) => a.code === 'circuit-open');
  if (alert) ctx.emit('alert', alert);
}
