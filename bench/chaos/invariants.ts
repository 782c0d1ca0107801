import type { Emulator } from '@nightshift/emulator';
import {
  type AttemptRecord,
  jobIds,
  QUEUES,
  type ResultJobData,
  type ResultPayload,
  toNano,
} from '@nightshift/shared';
import { isCompacted, type RedisClient, Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import type { Delivery } from './workload.js';

/** A time span during which acknowledged writes may have been lost (a simulated power loss). */
interface LossWindow {
  from: number;
  to: number;
}

/** Everything the checker reads. */
export interface CheckInput {
  redis: RedisClient;
  prefix: string;
  emu: Emulator;
  /** Every custom_id the producer had acknowledged, with the time of its (first) acknowledgement. */
  acks: Map<string, number>;
  /** Deliveries recorded by the result worker. */
  deliveries: Map<string, Delivery[]>;
  /** The retry policy (NIGHTSHIFT_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Acknowledged enqueues later replayed because a power loss cut them (everysec only). */
  replayedLost: Set<string>;
  /** Power-loss windows (everysec only); empty under `always`. */
  lossWindows: LossWindow[];
  /** custom_ids the emulator always fails with invalid_request_error: they must end dead. */
  poison: Set<string>;
}

/** One broken promise, with a few custom_ids or batch ids to look at. */
interface Violation {
  invariant: string;
  count: number;
  sample: string[];
}

/** The figures of one run, as checked. */
interface CheckFigures {
  requests: number;
  succeeded: number;
  dead: number;
  deadReasons: Record<string, number>;
  /** Acknowledged enqueues missing after a power loss (everysec), found and replayed by the producer. */
  lostAckedReplayed: number;
  /** Acknowledged enqueues with no record and no allowance: the goal is zero. */
  lost: number;
  stuck: number;
  attempts: Record<string, number>;
  overPolicy: number;
  batches: {
    atEmulator: number;
    created: number;
    adopted: number;
    duplicate: number;
    orphansAdopted: number;
    unknown: number;
    uncollected: number;
  };
  /** Requests the API processed in a second live batch (paid twice, delivered once). */
  requestsSentTwice: number;
  deliveries: {
    total: number;
    /** One result job handed to the handler twice (BullMQ at-least-once, e.g. across a Redis restart). */
    redeliveredSameJob: number;
    /** A second result job after a power loss cut the first, created in the lost second (everysec only). */
    redeliveredAfterLoss: number;
    /** A second result job without a power loss: a duplicate delivery, the goal is zero. */
    duplicate: number;
  };
  /** resultJobsCostNano: the costs the succeeded records keep (their jobs are gone once consumed). */
  ledger: { results: number; costNano: number; resultJobsCostNano: number };
  unknownCustomIdResults: number;
}

/** The checker's verdict: `ok` when no invariant broke, with the figures either way. */
export interface CheckReport {
  ok: boolean;
  violations: Violation[];
  figures: CheckFigures;
}

const FAILURES = new Set<AttemptRecord['outcome']>(['errored', 'expired', 'canceled', 'missing']);

/**
 * The invariant checker, run after every chaos run once it has drained:
 * 1. every acknowledged custom_id has exactly one final outcome: succeeded with the `{results}` job
 *    its record names carrying it, or dead with its dead-letter job and a reason (none left
 *    queued/claimed);
 * 2. no result is delivered twice (what the handler saw);
 * 3. the ledger counts each succeeded result once (results and cost);
 * 4. nothing is stuck: no open submission, nothing in flight, empty pending index;
 * 5. every batch created at the emulator is known to Nightshift and collected;
 * 6. budgets: nothing is left reserved, and what they count as spent is the ledger's cost (each
 *    success settled once, whatever was killed between claim and apply).
 * It also reports duplicates (allowed, counted) and requests over the attempt policy.
 */
export async function checkInvariants(input: CheckInput): Promise<CheckReport> {
  const v = new Violations();
  const store = new Store(input.redis, input.prefix);
  const cids = [...input.acks.keys()];
  const recs = await readAll(
    input.redis,
    cids.map((c) => rawStore(store).keys.record(c)),
  );
  const jobs = await readJobs(input.redis, input.prefix, cids, recs);
  const f = emptyFigures(cids.length);
  const inWindow = (t: number) => input.lossWindows.some((w) => t >= w.from - 50 && t <= w.to);
  f.lostAckedReplayed = input.replayedLost.size;
  let resultJobsCost = 0;
  const dead: DeadCheck[] = [];
  cids.forEach((cid, i) => {
    const rec = recs[i]!;
    const job = jobs[i]!;
    const seen = input.deliveries.get(cid) ?? [];
    if (!rec.state) {
      f.lost++;
      v.add('every acknowledged enqueue has a record (nothing lost)', cid);
      return;
    }
    const attempt = Number(rec.attempt) || 1;
    f.attempts[attempt] = (f.attempts[attempt] ?? 0) + 1;
    if (attempt > input.maxAttempts) {
      f.overPolicy++;
      v.add(`no request needs more than ${input.maxAttempts} attempts`, cid);
    }
    if (rec.state === 'succeeded') {
      f.succeeded++;
      if (input.poison.has(cid)) v.add('a request the API always refuses is never delivered', cid);
      // Handed over, its record is compacted (delivered.lua) and its job removed: the record keeps
      // the cost. A record not compacted names a job the service has not consumed.
      if (!isCompacted({ state: rec.state, customId: rec.cid })) {
        v.add('every succeeded result is handed to the service and its record compacted', cid);
        if (job.payload) resultJobsCost += toNano(job.payload.cost.cost);
      } else resultJobsCost += Number(rec.cost) || 0;
    } else if (rec.state === 'dead') {
      f.dead++;
      f.deadReasons[rec.reason ?? ''] = (f.deadReasons[rec.reason ?? ''] ?? 0) + 1;
      if (job.payload) v.add('a dead request has no {results} job', cid);
      dead.push(checkDead(v, input, cid, rec));
    } else {
      f.stuck++;
      v.add('every request reaches a final state (none left queued/claimed/realtime)', `${cid}:${rec.state}`);
    }
    if (rec.state !== 'dead' && input.poison.has(cid)) {
      v.add('a request the API always refuses ends dead (invalid_request_error)', cid);
    }
    checkDeliveries(v, f, rec.state, cid, seen, inWindow);
  });
  f.ledger.resultJobsCostNano = resultJobsCost;
  await checkLedger(v, f, store);
  await checkBudgets(v, f, store);
  await checkDeadLetterJobs(v, store, dead);
  await checkNothingStuck(v, store);
  await checkBatches(v, f, store, input, recs, cids);
  return { ok: v.list.length === 0, violations: v.list, figures: f };
}

class Violations {
  private readonly map = new Map<string, Violation>();
  add(invariant: string, id: string) {
    const x = this.map.get(invariant) ?? { invariant, count: 0, sample: [] };
    x.count++;
    if (x.sample.length < 5) x.sample.push(id);
    this.map.set(invariant, x);
  }
  get list(): Violation[] {
    return [...this.map.values()];
  }
}

function emptyFigures(requests: number): CheckFigures {
  return {
    requests,
    succeeded: 0,
    dead: 0,
    deadReasons: {},
    lostAckedReplayed: 0,
    lost: 0,
    stuck: 0,
    attempts: {},
    overPolicy: 0,
    batches: {
      atEmulator: 0,
      created: 0,
      adopted: 0,
      duplicate: 0,
      orphansAdopted: 0,
      unknown: 0,
      uncollected: 0,
    },
    requestsSentTwice: 0,
    deliveries: { total: 0, redeliveredSameJob: 0, redeliveredAfterLoss: 0, duplicate: 0 },
    ledger: { results: 0, costNano: 0, resultJobsCostNano: 0 },
    unknownCustomIdResults: 0,
  };
}

type Rec = Record<string, string>;

/** HGETALL of many keys, pipelined in pages. */
async function readAll(redis: RedisClient, keys: string[]): Promise<Rec[]> {
  const out: Rec[] = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const pipe = redis.pipeline();
    for (const k of keys.slice(i, i + 1000)) pipe.hgetall(k);
    for (const [err, val] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      out.push(val as Rec);
    }
  }
  return out;
}

interface JobView {
  /** The result as the job the record names (`dlv`) carries it; null when there is none. */
  payload: ResultPayload | null;
  finishedOn: string | null;
}

/**
 * For each record, the `{results}` job it names as its delivery (`dlv`) and the result that job
 * carries for it: what the result worker delivers (BullMQ hash `<prefix>:{results}:<jobId>`).
 */
async function readJobs(redis: RedisClient, prefix: string, cids: string[], recs: Rec[]): Promise<JobView[]> {
  const ids = [...new Set(recs.map((r) => r.dlv ?? '').filter(Boolean))];
  const jobs = new Map<string, { results: ResultPayload[]; finishedOn: string | null }>();
  for (let i = 0; i < ids.length; i += 1000) {
    const page = ids.slice(i, i + 1000);
    const pipe = redis.pipeline();
    for (const id of page) pipe.hmget(`${prefix}:${QUEUES.results}:${id}`, 'data', 'finishedOn');
    for (const [j, [err, val]] of ((await pipe.exec()) ?? []).entries()) {
      if (err) throw err;
      const [data, finishedOn] = val as (string | null)[];
      if (data) {
        const results = (JSON.parse(data) as ResultJobData).results;
        jobs.set(page[j]!, { results, finishedOn: finishedOn ?? null });
      }
    }
  }
  return cids.map((cid, i) => {
    const job = jobs.get(recs[i]?.dlv ?? '');
    const payload = job?.results.find((r) => r.customId === cid) ?? null;
    return { payload, finishedOn: payload ? (job?.finishedOn ?? null) : null };
  });
}

/** A dead request whose dead-letter job is looked up afterwards (one pipelined read for all). */
interface DeadCheck {
  cid: string;
  deaths: number;
  reason: string;
}

/** A dead request: a reason that its history explains. */
function checkDead(v: Violations, input: CheckInput, cid: string, rec: Rec): DeadCheck {
  const reason = rec.reason ?? '';
  const hist = JSON.parse(rec.hist || '[]') as AttemptRecord[];
  if (reason === 'invalid_request_error') {
    if (!input.poison.has(cid)) v.add('only requests the API refuses die as invalid', cid);
  } else if (reason === 'attempts-exhausted') {
    const failed = new Set(hist.filter((h) => FAILURES.has(h.outcome)).map((h) => h.attempt));
    if (failed.size < input.maxAttempts)
      v.add('a request dies of exhausted attempts only after all of them', cid);
  } else {
    v.add(`no request dies for an unexpected reason (${reason || 'none'})`, cid);
  }
  return { cid, deaths: Number(rec.deaths) || 1, reason };
}

function checkDeliveries(
  v: Violations,
  f: CheckFigures,
  state: string | undefined,
  cid: string,
  seen: Delivery[],
  inWindow: (t: number) => boolean,
) {
  f.deliveries.total += seen.length;
  if (state === 'succeeded' && seen.length === 0) v.add('every succeeded result reaches the service', cid);
  if (state !== 'succeeded' && seen.length > 0) v.add('only succeeded requests are delivered', cid);
  if (seen.length < 2) return;
  const jobsSeen = new Map<number, Delivery[]>();
  for (const d of seen) jobsSeen.set(d.jobCreatedAt, [...(jobsSeen.get(d.jobCreatedAt) ?? []), d]);
  for (const list of jobsSeen.values()) f.deliveries.redeliveredSameJob += list.length - 1;
  if (jobsSeen.size > 1) {
    // A result job created in a second a power loss then cut may reach the handler (fetched just
    // before the crash, handled just after) and be gone from Redis: the result is applied again and
    // delivered again. Allowed only when every earlier job was created in such a second.
    const created = [...jobsSeen.keys()].sort((a, b) => a - b);
    if (created.slice(0, -1).every(inWindow)) f.deliveries.redeliveredAfterLoss++;
    else {
      f.deliveries.duplicate++;
      v.add('no result is delivered twice', cid);
    }
  }
}

async function checkLedger(v: Violations, f: CheckFigures, store: Store) {
  const rows = await store.ledger.rows();
  for (const r of rows) {
    f.ledger.results += r.results;
    f.ledger.costNano += r.costNano;
  }
  if (f.ledger.results !== f.succeeded) {
    v.add(
      'the ledger counts each succeeded result once',
      `ledger n=${f.ledger.results} succeeded=${f.succeeded}`,
    );
  }
  if (f.ledger.costNano !== f.ledger.resultJobsCostNano) {
    v.add(
      'the ledger cost equals the cost of the delivered results',
      `ledger=${f.ledger.costNano} results=${f.ledger.resultJobsCostNano}`,
    );
  }
  const stats = await store.stats.all();
  f.unknownCustomIdResults = stats.unknown_custom_ids ?? 0;
}

/**
 * Every budget window's reservations, summed, are 0 once drained (none leaked), and its spend is
 * the ledger's cost (the run's budget covers every request; see runScenario).
 */
async function checkBudgets(v: Violations, f: CheckFigures, store: Store) {
  const budgets = await store.budgets.list();
  if (budgets.length === 0) return;
  const use = await rawStore(store).redis.hgetall(rawStore(store).keys.budgetUse);
  for (const b of budgets) {
    let reserved = 0;
    let spent = 0;
    for (const [field, value] of Object.entries(use)) {
      if (!field.startsWith(`${b.id}|`)) continue;
      if (field.endsWith('|r')) reserved += Number(value);
      else if (field.endsWith('|s')) spent += Number(value);
    }
    if (reserved !== 0) v.add('no budget reservation is left once drained', `${b.id} reserved=${reserved}`);
    if (!b.feature && !b.partition && spent !== f.ledger.costNano) {
      v.add(
        'a budget over every request counts the ledger cost as spent',
        `${b.id} spent=${spent} ledger=${f.ledger.costNano}`,
      );
    }
  }
}

/** Each dead request has its `dead-<custom_id>-<deaths>` job, carrying the same reason. */
async function checkDeadLetterJobs(v: Violations, store: Store, checks: DeadCheck[]) {
  const pipe = rawStore(store).redis.pipeline();
  for (const d of checks) {
    pipe.hget(`${store.prefix}:${QUEUES.deadLetters}:${jobIds.deadLetter(d.cid, d.deaths)}`, 'data');
  }
  const replies = (await pipe.exec()) ?? [];
  checks.forEach((d, i) => {
    const data = replies[i]?.[1] as string | null;
    if (!data) v.add('a dead request has its dead-letter job', d.cid);
    else if ((JSON.parse(data) as { reason?: string }).reason !== d.reason) {
      v.add('the dead-letter job carries the reason', d.cid);
    }
  });
}

/** Nothing left that would need a process to move it on. */
async function checkNothingStuck(v: Violations, store: Store) {
  const k = rawStore(store).keys;
  const [open, inflight, groups, realtime, counts] = await Promise.all([
    rawStore(store).redis.smembers(k.openSubmissions),
    rawStore(store).redis.smembers(k.inflight),
    rawStore(store).redis.zrange(k.groups, '0', '-1'),
    rawStore(store).redis.zrange(`${k.base}:realtime`, '0', '-1'),
    rawStore(store).redis.hgetall(k.partitionCount),
  ]);
  for (const s of open) v.add('no submission is left open', s);
  for (const b of inflight) v.add('no batch is left in flight', b);
  for (const g of groups) v.add('the pending index is empty', g);
  for (const c of realtime) v.add('no real-time call is left in progress', c);
  for (const [p, n] of Object.entries(counts)) {
    if (Number(n) !== 0) v.add('the queued counters are back to zero', `${p}=${n}`);
  }
}

/** Every batch at the emulator is known and collected; duplicates and double sends are counted. */
async function checkBatches(
  v: Violations,
  f: CheckFigures,
  store: Store,
  input: CheckInput,
  recs: Rec[],
  cids: string[],
) {
  const carried = new Map<string, number>();
  for (const b of input.emu.inspect.batches()) {
    f.batches.atEmulator++;
    const known = await store.batches.get(b.id);
    if (!known) {
      f.batches.unknown++;
      v.add('every batch created at the API is known to Nightshift', b.id);
    } else {
      if (known.state !== 'collected') {
        f.batches.uncollected++;
        v.add('every batch is collected', `${b.id}:${known.state}`);
      }
      if (known.origin === 'duplicate') f.batches.duplicate++;
      else if (known.sub.startsWith('orphan-')) f.batches.orphansAdopted++;
      else if (known.origin === 'adopted') f.batches.adopted++;
      else f.batches.created++;
    }
    for (const r of input.emu.inspect.requests(b.id)) {
      carried.set(r.custom_id, (carried.get(r.custom_id) ?? 0) + 1);
    }
  }
  cids.forEach((cid, i) => {
    const rec = recs[i] ?? {};
    // A compacted record keeps no history, only its attempts (absent: one), each of which may have
    // gone out in a batch.
    const fromBatches = isCompacted({ state: rec.state, customId: rec.cid })
      ? Number(rec.attempt || 1)
      : (JSON.parse(rec.hist || '[]') as AttemptRecord[]).filter((h) => h.batchId).length;
    const extra = (carried.get(cid) ?? 0) - fromBatches;
    if (extra > 0) f.requestsSentTwice += extra;
  });
}
