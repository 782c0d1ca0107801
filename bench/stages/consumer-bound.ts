/**
 * Stage child (result consumer): `createResultWorker` alone over n results that are already in
 * `{results}`, packed 100 to a job as the collector packs them, with records that succeeded and name
 * their job (written first, untimed: enqueue → apply → job add). Timed from the worker's start to
 * the n-th handler call returning; redis-server's CPU over the same span. `maxUnrecorded` (null: Infinity, i.e. no bound) is what the
 * section compares; the handler either returns at once (what makes the record fall behind) or awaits
 * `handlerMs` (a database write's stand-in).
 */
import { createResultWorker } from '@nightshift/producer';
import { DEFAULT_PRICES, type Message, type ResultPayload } from '@nightshift/shared';
import { buildSuccess, createRedis, deliverResults, openQueue, Store } from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { BENCH_FEATURE, BENCH_MODEL, benchCustomId } from '../lib/payloads.js';
import { cpuMsFromInfo } from '../lib/redis-info.js';
import { meter, result, runChild, stageArgs } from './common.js';
import { benchLogger } from './logger.js';

interface Args {
  redisUrl: string;
  prefix: string;
  n: number;
  concurrency: number;
  maxUnrecorded: number | null;
  handlerMs: number;
}

/** Results per job, as the collector packs them by default (`resultsPerJob`). */
const PER_JOB = 100;
/** Records and jobs written per call while setting up. */
const CHUNK = 1000;

function message(i: number): Message {
  return {
    id: `msg_${i}`,
    type: 'message',
    role: 'assistant',
    model: BENCH_MODEL,
    content: [{ type: 'text', text: 'invoice', citations: null }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 240, output_tokens: 2, service_tier: 'batch' },
  } as unknown as Message;
}

/** n succeeded records, each naming the job that carries its result, and those jobs. */
async function setUp(store: Store, a: Args) {
  const queue = openQueue('results', rawStore(store).redis, a.prefix);
  for (let from = 0; from < a.n; from += CHUNK) {
    const idx = Array.from({ length: Math.min(CHUNK, a.n - from) }, (_, k) => from + k);
    await store.records.enqueue(
      idx.map((i) => ({
        cid: benchCustomId(i),
        feature: BENCH_FEATURE,
        model: BENCH_MODEL,
        params: '{}',
        phash: benchCustomId(i),
        meta: '',
        deadline: null,
        partition: 'default',
        group: 'g',
        bytes: 2,
        realtimeAllowed: false,
        state: 'queued' as const,
      })),
    );
    const jobs: { id: string; results: ResultPayload[] }[] = [];
    const items = [];
    for (let j = 0; j < idx.length; j += PER_JOB) {
      const id = `res-msgbatch_bench-${from + j}`;
      const results: ResultPayload[] = [];
      for (const i of idx.slice(j, j + PER_JOB)) {
        const s = buildSuccess({
          customId: benchCustomId(i),
          feature: BENCH_FEATURE,
          metadata: { doc: i },
          model: BENCH_MODEL,
          message: message(i),
          mode: 'batch',
          batchId: 'msgbatch_bench',
          attempt: 1,
          prices: DEFAULT_PRICES,
        });
        items.push({ ...s.item, delivery: id });
        results.push(s.payload);
      }
      jobs.push({ id, results });
    }
    await store.outcomes.apply(items);
    await deliverResults(queue, jobs);
  }
  await queue.close();
}

runChild(async () => {
  const a = stageArgs<Args>();
  const connection = createRedis({ url: a.redisUrl }, 'client');
  await setUp(new Store(connection, a.prefix), a);
  let count = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const pause = a.handlerMs > 0 ? () => new Promise((r) => setTimeout(r, a.handlerMs)) : undefined;
  const redis0 = cpuMsFromInfo(await connection.info('cpu'));
  const m = meter();
  const consumer = createResultWorker({
    connection,
    prefix: a.prefix,
    concurrency: a.concurrency,
    maxUnrecorded: a.maxUnrecorded ?? Infinity,
    logger: benchLogger('result-worker'),
    handler: async (r) => {
      if (pause) await pause();
      if (r.text && ++count === a.n) finish();
    },
  });
  await done;
  const timed = m.stop();
  const redisMs = Math.round(cpuMsFromInfo(await connection.info('cpu')) - redis0);
  await consumer.close();
  await connection.quit();
  result({ stage: 'consumer-bound', n: a.n, ...timed, redisCpuMs: redisMs });
});
