import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Emulator } from '@nightshift/emulator';
import { jobIds, QUEUES } from '@nightshift/shared';
import { type RedisClient, Store } from '@nightshift/store';
import type { CheckReport } from './invariants.js';
import type { RedisFaultRecord } from './redis.js';
import type { Delivery } from './workload.js';

/**
 * After a run with broken invariants: everything known about the custom_ids and batches the
 * checker named (record, result and dead-letter jobs, deliveries, every emulator batch that carried
 * the request), written to `<logDir>/violations.json` next to the replicas' logs.
 */
export async function diagnose(args: {
  report: CheckReport;
  redis: RedisClient;
  prefix: string;
  emu: Emulator;
  deliveries: Map<string, Delivery[]>;
  acks: Map<string, number>;
  redisFaults: RedisFaultRecord[];
  logDir: string;
}): Promise<string | undefined> {
  if (args.report.ok) return undefined;
  const store = new Store(args.redis, args.prefix);
  const ids = new Set(args.report.violations.flatMap((v) => v.sample.map((s) => s.split(':')[0]!)));
  const carriers = new Map<string, { batchId: string; outcome: string; created: string }[]>();
  for (const b of args.emu.inspect.batches()) {
    for (const r of args.emu.inspect.requests(b.id)) {
      if (!ids.has(r.custom_id)) continue;
      const list = carriers.get(r.custom_id) ?? [];
      list.push({ batchId: b.id, outcome: r.outcome, created: b.created_at });
      carriers.set(r.custom_id, list);
    }
  }
  const items: Record<string, unknown> = {};
  for (const id of ids) {
    if (id.startsWith('msgbatch_')) {
      const key = `${args.prefix}:${QUEUES.batches}:${jobIds.batch(id)}`;
      const job = await args.redis.hgetall(key);
      const lock = await args.redis.pttl(`${key}:lock`);
      items[id] = {
        batch: await store.batches.get(id),
        atEmulator: args.emu.inspect.batch(id),
        trackingJob: {
          ...job,
          lockTtlMs: lock,
          state: await jobState(args.redis, args.prefix, jobIds.batch(id)),
        },
      };
      continue;
    }
    const rec = await store.records.get(id);
    const job = rec?.delivery
      ? await args.redis.hgetall(`${args.prefix}:${QUEUES.results}:${rec.delivery}`)
      : {};
    const carried = carriers.get(id) ?? [];
    items[id] = {
      ackedAt: args.acks.get(id),
      record: rec ? { ...rec, params: undefined } : null,
      resultJob: job.timestamp
        ? { id: rec?.delivery, timestamp: job.timestamp, finishedOn: job.finishedOn }
        : null,
      deliveries: args.deliveries.get(id) ?? [],
      carriedBy: await Promise.all(
        carried.map(async (c) => ({ ...c, known: await store.batches.get(c.batchId) })),
      ),
    };
  }
  const queues: Record<string, unknown> = {};
  for (const q of [QUEUES.flush, QUEUES.collect, QUEUES.batches, QUEUES.results]) {
    const base = `${args.prefix}:${q}`;
    queues[q] = {
      active: await args.redis.lrange(`${base}:active`, 0, 20),
      wait: await args.redis.llen(`${base}:wait`),
      delayed: await args.redis.zrange(`${base}:delayed`, '0', '20', 'WITHSCORES'),
      schedulers: await args.redis.zrange(`${base}:repeat`, '0', '-1', 'WITHSCORES'),
    };
  }
  const file = join(args.logDir, 'violations.json');
  writeFileSync(
    file,
    JSON.stringify(
      { violations: args.report.violations, redisFaults: args.redisFaults, now: Date.now(), queues, items },
      null,
      2,
    ),
  );
  return file;
}

/** Which BullMQ list or set holds a job (read directly: the queue may be in any state). */
async function jobState(redis: RedisClient, prefix: string, jobId: string): Promise<string> {
  const base = `${prefix}:${QUEUES.batches}`;
  for (const list of ['active', 'wait', 'paused']) {
    if ((await redis.lpos(`${base}:${list}`, jobId)) !== null) return list;
  }
  for (const set of ['delayed', 'completed', 'failed', 'prioritized', 'waiting-children']) {
    if ((await redis.zscore(`${base}:${set}`, jobId)) !== null) return set;
  }
  return 'unknown';
}
