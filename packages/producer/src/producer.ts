import Anthropic from '@anthropic-ai/sdk';
import {
  API_MAX_BYTES,
  BATCH_WINDOW_MS,
  BudgetExceededError,
  ConfigError,
  ConflictError,
  CUSTOM_ID_PATTERN,
  createLogger,
  DEFAULT_PREFIX,
  DEFAULT_PRICES,
  DeadlineTooSoonError,
  deriveCustomId,
  type FieldIssue,
  illFormedKey,
  type Logger,
  loneSurrogateAt,
  ModelRetiredError,
  modelLifecycle,
  NightshiftError,
  type PriceTable,
  type RetiredModel,
  redactedCopy,
  redactUrls,
  ValidationError,
} from '@nightshift/shared';
import {
  createRedis,
  describeRedis,
  type EnqueueItem,
  type EnqueueResult,
  logRedisErrors,
  ModelAlerts,
  openQueue,
  type RedisClient,
  Store,
  sameParams,
} from '@nightshift/store';
import type { Queue } from 'bullmq';
import { checkConnectionChoice } from './connection.js';
import { RealtimePath } from './realtime.js';
import type {
  BulkEnqueueResult,
  EnqueueOptions,
  EnqueueRequest,
  Producer,
  ProducerOptions,
  RealtimeChoice,
} from './types.js';
import {
  DEADLINE_HORIZON_MS,
  type PreparedRequest,
  prepareRequest,
  TAG_PATTERN,
  type ValidateContext,
} from './validate.js';

const HOUR = 3_600_000;
/** Store.enqueue writes 1,000 per Lua call; a few calls in flight overlap our encoding with Redis' work. */
const WRITE_SLICE = 1000;
const WRITE_PARALLEL = 4;
const PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

/** One distinct custom_id of a call, with what the call decided for it. */
interface Unique {
  item: PreparedRequest;
  realtime: boolean;
  result?: BulkEnqueueResult;
}

/** Everything one producer holds, resolved once from its options. */
interface Core {
  redis: RedisClient;
  owned: boolean;
  store: Store;
  logger: Logger;
  now: () => number;
  slackMs: number;
  defaultRealtime: RealtimeChoice;
  ctx: Omit<ValidateContext, 'now'>;
  realtime: RealtimePath;
  queues: Map<'results' | 'deadLetters', Queue>;
  prices: PriceTable;
  modelAlerts: ModelAlerts;
}

/**
 * Creates a producer: what a service uses to send work that no human waits on to the batch path.
 *
 * @example
 * // One Redis, `rediss://` with TLS and password, or a Redis Cluster: all from the same two variables.
 * const producer = createProducer({
 *   redisUrl: process.env.REDIS_URL,
 *   clusterNodes: process.env.NIGHTSHIFT_REDIS_CLUSTER_NODES,
 * });
 * await producer.enqueue({ feature: 'classify-docs', key: doc.id, params: { model, max_tokens: 50, messages } });
 */
export function createProducer(opts: ProducerOptions): Producer {
  const core = openCore(opts);
  const ops = new Set<Promise<unknown>>();
  let closing: Promise<void> | null = null;
  // Every call is tracked so close() can wait for it; after close() nothing new starts.
  const guard = <T>(fn: () => Promise<T>): Promise<T> => {
    if (closing) return Promise.reject(new NightshiftError('INVALID_STATE', 'the producer is closed'));
    const p = fn();
    ops.add(p);
    const done = () => ops.delete(p);
    p.then(done, done);
    return p;
  };
  return {
    enqueue: (req, eopts = {}) =>
      guard(async () => {
        const [r] = await submit(core, [req], eopts, true);
        return { ...r!, status: await core.store.records.status(r!.customId) };
      }),
    enqueueMany: (reqs, eopts = {}) => guard(() => submit(core, reqs, eopts, false)),
    getStatus: (customId) =>
      guard(async () => {
        checkCustomId(customId);
        return core.store.records.status(customId);
      }),
    cancel: (customId) =>
      guard(async () => {
        checkCustomId(customId);
        const [result = { code: 'unknown' }] = await core.store.records.cancel([customId], core.now());
        if (result.code === 'ok' || result.code === 'canceled')
          return { customId, canceled: true, state: 'canceled' };
        return { customId, canceled: false, state: result.code === 'unknown' ? 'unknown' : result.state };
      }),
    customIdFor,
    close: () => {
      closing ??= (async () => {
        await Promise.allSettled([...ops]);
        await core.realtime.drain();
        await Promise.allSettled([...core.queues.values()].map((q) => q.close()));
        if (core.owned) await core.redis.quit().catch(() => core.redis.disconnect());
      })();
      return closing;
    },
  };
}

function openCore(opts: ProducerOptions): Core {
  const own = checkConnectionChoice('createProducer', opts ?? {});
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new ConfigError(`createProducer: prefix "${prefix}" must be 1–32 of A-Z a-z 0-9 _ . -`);
  }
  checkNumbers(opts);
  const owned = own !== undefined;
  const redis: RedisClient = own ? createRedis(own, 'client') : (opts.connection as RedisClient);
  const store = new Store(redis, prefix);
  const logger = opts.logger ?? createLogger('producer');
  // An owned client's connection errors are logged here, redacted (ioredis would print them as
  // unhandled, AUTH arguments included).
  if (own) logRedisErrors(redis, logger, describeRedis(own));
  const now = opts.now ?? Date.now;
  // Queues and the SDK client are only needed by the real-time path: made on first use.
  const queues = new Map<'results' | 'deadLetters', Queue>();
  const queue = (role: 'results' | 'deadLetters') => {
    let q = queues.get(role);
    if (!q) {
      q = openQueue(role, redis, prefix);
      queues.set(role, q);
    }
    return q;
  };
  let client = opts.client;
  const prices = opts.prices ?? DEFAULT_PRICES;
  const modelAlerts = new ModelAlerts(store, now);
  const realtime = new RealtimePath({
    store,
    client: () => {
      client ??= new Anthropic();
      return client;
    },
    results: () => queue('results'),
    deadLetters: () => queue('deadLetters'),
    prices,
    now,
    logger,
    concurrency: opts.realtimeConcurrency ?? 8,
    modelAlerts,
  });
  return {
    redis,
    owned,
    store,
    logger,
    now,
    slackMs: opts.deadlineSlackMs ?? HOUR,
    defaultRealtime: opts.realtime ?? 'never',
    ctx: { maxRequestBytes: opts.maxRequestBytes ?? 200_000_000, routeModel: opts.routeModel, prices },
    realtime,
    queues,
    prices,
    modelAlerts,
  };
}

/** Numeric options: a wrong one would silently refuse everything (or deadlock the real-time path). */
function checkNumbers(opts: ProducerOptions) {
  const bad: string[] = [];
  const { deadlineSlackMs: slack, maxRequestBytes: max, realtimeConcurrency: conc } = opts;
  if (slack !== undefined && !(Number.isFinite(slack) && slack >= 0 && slack <= DEADLINE_HORIZON_MS))
    bad.push('deadlineSlackMs must be from 0 to 366 days in ms');
  if (max !== undefined && !(Number.isFinite(max) && max > 0 && max <= API_MAX_BYTES))
    bad.push(`maxRequestBytes must be > 0 and at most ${API_MAX_BYTES} (the API's 256 MB batch limit)`);
  if (conc !== undefined && !(Number.isInteger(conc) && conc >= 1 && conc <= 1000))
    bad.push('realtimeConcurrency must be an integer from 1 to 1000');
  if (bad.length) throw new ConfigError(`createProducer: ${bad.join('; ')}`);
}

function checkCustomId(customId: unknown): asserts customId is string {
  if (typeof customId !== 'string' || !CUSTOM_ID_PATTERN.test(customId)) {
    throw new ValidationError([{ field: 'customId', message: 'must be 1–64 characters of A-Z a-z 0-9 _ -' }]);
  }
}

function customIdFor(feature: string, key: string): string {
  const issues: FieldIssue[] = [];
  if (typeof feature !== 'string' || !TAG_PATTERN.test(feature)) {
    issues.push({ field: 'feature', message: 'must be 1–64 characters of A-Z a-z 0-9 _ . -' });
  }
  if (typeof key !== 'string' || key.length === 0) {
    issues.push({ field: 'key', message: 'must be a non-empty string' });
  } else if (loneSurrogateAt(key) >= 0) {
    issues.push({ field: 'key', message: illFormedKey(loneSurrogateAt(key)) });
  }
  if (issues.length) throw new ValidationError(issues);
  return deriveCustomId(feature, key);
}

/**
 * One enqueue call: validate all → deadlines → read-only pre-check → write in slices → real-time calls.
 * Every refusal happens before the first write.
 */
async function submit(
  core: Core,
  reqs: unknown,
  eopts: EnqueueOptions,
  single: boolean,
): Promise<BulkEnqueueResult[]> {
  const t = core.now();
  const uniques = validateAll(reqs, { ...core.ctx, now: t }, single);
  if (uniques.order.length === 0) return [];
  await warnDeprecated(core, uniques.byCid.values());
  const limit = t + BATCH_WINDOW_MS + core.slackMs;
  const refused: Unique[] = [];
  for (const u of uniques.byCid.values()) {
    const d = u.item.deadline;
    if (d === null || d >= limit) continue;
    if ((u.item.realtime ?? core.defaultRealtime) === 'fallback') u.realtime = true;
    else refused.push(u);
  }
  if (refused.length) throw tooSoon(refused, limit, core.slackMs, single);
  const replace = eopts.replace === true;
  const toWrite = await precheck(core.store, uniques, replace, single)
    .then(async (w) => {
      await checkBudgets(core.store, w, t, single);
      return w;
    })
    .catch((err: unknown) => {
      if (err instanceof NightshiftError) throw err;
      throw new NightshiftError(
        'REDIS_UNAVAILABLE',
        `Redis failed before anything was written: ${redactUrls(String(err))}`,
        { cause: redactedCopy(err) },
      );
    });
  await write(core.store, toWrite, core.defaultRealtime, replace, t, single);
  const rt = toWrite.filter((u) => u.realtime && u.result?.outcome !== 'exists');
  if (rt.length) {
    const states = await core.realtime.run(rt.map((u) => u.item));
    for (const u of rt)
      u.result = { customId: u.item.cid, outcome: 'realtime', state: states.get(u.item.cid)! };
  }
  return uniques.order.map((cid) => uniques.byCid.get(cid)!.result!);
}

/**
 * Validates every request and collapses identical duplicates; throws one ValidationError for all
 * (a ModelRetiredError when a request names a retired model).
 */
function validateAll(reqs: unknown, shared: ValidateContext, single: boolean) {
  if (!Array.isArray(reqs)) {
    throw new ValidationError([{ field: 'requests', message: 'enqueueMany takes an array of requests' }]);
  }
  const retired: RetiredModel[] = [];
  const ctx: ValidateContext = { ...shared, retired };
  const issues: FieldIssue[] = [];
  const byCid = new Map<string, Unique>();
  const order: string[] = [];
  for (let i = 0; i < reqs.length; i++) {
    const { item, issues: found } = prepareRequest(reqs[i], i, ctx);
    for (const f of found) issues.push(single ? { field: f.field, message: f.message } : f);
    if (!item) continue;
    const first = byCid.get(item.cid);
    if (first && first.item.phash !== item.phash) {
      issues.push({
        index: i,
        field: (reqs[i] as EnqueueRequest).customId !== undefined ? 'customId' : 'key',
        message: `gives custom_id ${item.cid}, like requests[${first.item.index}], with different params; use distinct keys`,
      });
    }
    if (!first) byCid.set(item.cid, { item, realtime: false });
    order.push(item.cid);
  }
  if (retired.length) {
    const models = new Map(retired.map((r) => [r.model, r]));
    throw new ModelRetiredError(issues, [...models.values()]);
  }
  if (issues.length) throw new ValidationError(issues);
  return { byCid, order };
}

/**
 * A deprecated model still works, so the request is accepted; its alert (board) and a warning (log)
 * are raised at most hourly per model and process, so the hot path costs no round trip.
 */
async function warnDeprecated(core: Core, uniques: Iterable<Unique>) {
  const models = new Set<string>();
  for (const u of uniques) models.add(u.item.model);
  for (const model of models) {
    const life = modelLifecycle(model, core.prices, core.now());
    if (life.state !== 'deprecated') continue;
    const raised = await core.modelAlerts.deprecated(model, life).catch((err: unknown) => {
      core.logger.warn({ err, model }, 'could not raise the deprecated-model alert');
      return false;
    });
    if (raised) core.logger.warn({ model, ...life }, `model ${model} is deprecated: move to its replacement`);
  }
}

function tooSoon(refused: Unique[], limit: number, slackMs: number, single: boolean): DeadlineTooSoonError {
  const list = refused
    .slice(0, 5)
    .map(
      (u) =>
        `${single ? '' : `requests[${u.item.index}] `}${u.item.cid} (deadline ${new Date(u.item.deadline!).toISOString()})`,
    )
    .join(', ');
  return new DeadlineTooSoonError(
    refused.map((u) => u.item.cid),
    `${refused.length} request(s) have a deadline before ${new Date(limit).toISOString()} ` +
      `(now + 24 h + ${Math.round(slackMs / 60_000)} min slack): ${list}${refused.length > 5 ? ', …' : ''}. ` +
      'Nothing was enqueued.',
  );
}

/**
 * Read-only pass before any write: same params → `exists` (no write); different params → conflict,
 * unless `replace` and still queued. A conflict anywhere throws before anything is written.
 */
async function precheck(
  store: Store,
  uniques: ReturnType<typeof validateAll>,
  replace: boolean,
  single: boolean,
) {
  const list = [...uniques.byCid.values()];
  const cids = list.map((u) => u.item.cid);
  // EXISTS per slice first: a slice of only new ids (the usual case) needs no per-record read.
  const slices = await Promise.all(
    Array.from({ length: Math.ceil(cids.length / WRITE_SLICE) }, async (_, s) => {
      const slice = cids.slice(s * WRITE_SLICE, (s + 1) * WRITE_SLICE);
      if ((await store.records.count(slice)) === 0) return slice.map(() => null);
      return store.records.peek(slice, ['state', 'paramsHash']);
    }),
  );
  const current = slices.flat();
  const conflicts: ConflictError['conflicts'] = [];
  const toWrite: Unique[] = [];
  list.forEach((u, i) => {
    const cur = current[i];
    if (!cur) toWrite.push(u);
    // replace re-opens a canceled request, even with the same params.
    else if (replace && cur.state === 'canceled') toWrite.push(u);
    else if (sameParams(cur.paramsHash, u.item.phash))
      u.result = { customId: u.item.cid, outcome: 'exists', state: cur.state };
    else if (replace && cur.state === 'queued') toWrite.push(u);
    else
      conflicts.push({ ...(single ? {} : { index: u.item.index }), customId: u.item.cid, state: cur.state });
  });
  if (conflicts.length) throw new ConflictError(conflicts);
  return toWrite;
}

/**
 * The budgets' word before anything is written (ARCHITECTURE.md "Budgets"): a `refuse` budget the
 * call's estimates would pass, or a full `hold` budget and a deadline it would make the request
 * miss, refuses the whole call with BudgetExceededError naming the budget.
 */
async function checkBudgets(store: Store, toWrite: Unique[], now: number, single: boolean) {
  const refusal = await store.budgets.check(
    toWrite.map(({ item }) => ({
      cid: item.cid,
      feature: item.feature,
      partition: item.partition,
      est: item.est ?? 0,
      deadline: item.deadline,
    })),
    now,
  );
  if (!refusal) return;
  const index = new Map(toWrite.map((u) => [u.item.cid, u.item.index]));
  const list = refusal.customIds
    .slice(0, 5)
    .map((cid) => (single ? cid : `requests[${index.get(cid)}] ${cid}`))
    .join(', ');
  throw new BudgetExceededError(
    refusal.budget,
    refusal.customIds,
    `${refusal.detail} Refused: ${list}${refusal.customIds.length > 5 ? ', …' : ''}.`,
  );
}

/** Writes in slices of 1,000 (each one atomic Lua call), a few at once; maps the store's codes. */
async function write(
  store: Store,
  toWrite: Unique[],
  defaultRealtime: RealtimeChoice,
  replace: boolean,
  now: number,
  single: boolean,
) {
  const items: EnqueueItem[] = toWrite.map(({ item, realtime }) => ({
    cid: item.cid,
    feature: item.feature,
    model: item.model,
    params: item.params,
    phash: item.phash,
    meta: item.meta,
    deadline: item.deadline,
    partition: item.partition,
    group: item.group,
    bytes: item.bytes,
    est: item.est,
    notify: item.notify,
    realtimeAllowed: (item.realtime ?? defaultRealtime) === 'fallback',
    state: realtime ? 'realtime' : 'queued',
  }));
  const codes: EnqueueResult[] = new Array(items.length);
  let next = 0;
  let written = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      const start = next;
      next += WRITE_SLICE;
      const got = await store.records
        .enqueue(items.slice(start, start + WRITE_SLICE), { replace, now })
        .catch((err: unknown) => {
          failed = true; // the other lanes stop taking slices: the caller will re-run the call
          throw err;
        });
      for (let i = 0; i < got.length; i++) codes[start + i] = got[i]!;
      written += got.length;
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(WRITE_PARALLEL, Math.ceil(items.length / WRITE_SLICE)) }, lane),
    );
  } catch (err) {
    if (err instanceof NightshiftError) throw err;
    throw new NightshiftError(
      'REDIS_UNAVAILABLE',
      `Redis failed while enqueueing (${written} of ${items.length} written): ${redactUrls((err as Error).message)}. ` +
        'Call again with the same input: what was written is recognised and the rest is completed.',
      { cause: redactedCopy(err) },
    );
  }
  const raced: ConflictError['conflicts'] = [];
  toWrite.forEach((u, i) => {
    const result = codes[i]!;
    const cid = u.item.cid;
    switch (result.code) {
      case 'new':
        u.result = { customId: cid, outcome: 'queued', state: u.realtime ? 'realtime' : 'queued' };
        break;
      case 'replaced':
        u.result = { customId: cid, outcome: 'replaced', state: u.realtime ? 'realtime' : 'queued' };
        break;
      case 'exists':
        u.result = { customId: cid, outcome: 'exists', state: result.state };
        break;
      case 'conflict':
        raced.push({ ...(single ? {} : { index: u.item.index }), customId: cid, state: result.state });
        break;
    }
  });
  // Only a concurrent writer between the pre-check and the write gets here; the rest is written.
  if (raced.length) throw new ConflictError(raced);
}
