import { describe, expect, it } from 'vitest';
import type { BatcherOptions } from '../src/index.js';
import { batchContents, batcherFor, clock, enqueue, freshBatcher, makeItem, useEnv } from './helpers.js';

const DAY = 24 * 3600_000;
const env = useEnv();

const fresh = (over: Partial<BatcherOptions> = {}) => freshBatcher(env, over);

describe('when a partition reaches maxRequests (size)', () => {
  it('submits full batches while the trigger holds and leaves the remainder queued', async () => {
    const { b, store } = await fresh({ maxRequests: 10 });
    await enqueue(store, 25);
    const r = await b.runFlushOnce();
    expect(r.batches.map((x) => [x.reason, x.requestCount])).toEqual([
      ['size', 10],
      ['size', 10],
    ]);
    expect((await store.pending.overview(clock.now())).total).toBe(5);
    expect(env.createContentTypes.at(-1)).toBe('application/json');
    // The emulator received exactly the params we stored.
    const [first] = r.batches;
    const sent = env.emu.inspect.requests(first!.batchId);
    const rec = await store.records.get(sent[0]!.custom_id);
    expect(sent[0]!.params).toEqual(JSON.parse(rec!.params));
    expect((await store.records.status(sent[0]!.custom_id)).state).toBe('in_batch');
  });
});

describe('when queued bytes reach maxBytes (bytes)', () => {
  it('submits batches whose real body fits maxBytes and leaves the remainder', async () => {
    const item = makeItem('probe', { size: 300 });
    const maxBytes = 15 + 4 * (item.bytes + 1); // room for 4 items (with separators), not 5
    const { b, store } = await fresh({ maxBytes });
    await enqueue(store, 13, { size: 300 });
    const r = await b.runFlushOnce();
    expect(r.batches.map((x) => [x.reason, x.requestCount])).toEqual([
      ['bytes', 4],
      ['bytes', 4],
      ['bytes', 4],
    ]);
    for (const x of r.batches) expect(x.bytes).toBeLessThanOrEqual(maxBytes);
    expect((await store.pending.overview(clock.now())).total).toBe(1);
  });
});

describe('when the oldest request has waited maxWaitMs (time)', () => {
  it('waits until then, then drains the partition even below minRequests', async () => {
    const { b, store } = await fresh({ maxWaitMs: 60_000, minRequests: 50 });
    await enqueue(store, 3);
    expect((await b.runFlushOnce()).batches).toEqual([]);
    clock.advance(60_000);
    const r = await b.runFlushOnce();
    expect(r.batches.map((x) => [x.reason, x.requestCount])).toEqual([['time', 3]]);
  });
});

describe('when a deadline needs submission now (deadline)', () => {
  it('flushes the partition of a request whose deadline is within 24 h + slack + tick', async () => {
    const { b, store } = await fresh({ deadlineSlackMs: 3600_000, tickMs: 60_000 });
    const now = clock.now();
    await store.records.enqueue([makeItem('far', { deadline: now + 3 * DAY, partition: 'a' })], { now });
    expect((await b.runFlushOnce()).batches).toEqual([]);
    await store.records.enqueue(
      [
        makeItem('soon', { deadline: now + DAY + 3600_000 + 60_000 - 1, partition: 'b' }),
        makeItem('other', { partition: 'b' }),
      ],
      { now },
    );
    const r = await b.runFlushOnce();
    expect(r.batches.map((x) => [x.reason, x.partition, x.requestCount])).toEqual([['deadline', 'b', 2]]);
    expect((await store.records.status('far')).state).toBe('queued');
  });
});

describe('minRequests', () => {
  it('keeps a few large requests back from the bytes trigger until time or a manual flush', async () => {
    const item = makeItem('probe', { size: 400 });
    const { b, store } = await fresh({ minRequests: 5, maxBytes: 2 * item.bytes, maxWaitMs: 60_000 });
    await enqueue(store, 3, { size: 400 });
    expect((await b.runFlushOnce()).batches).toEqual([]); // bytes ≥ maxBytes, but 3 < minRequests
    const r = await b.runFlushOnce('manual');
    expect(r.batches.map((x) => [x.reason, x.requestCount])).toEqual([
      ['manual', 1],
      ['manual', 1],
      ['manual', 1],
    ]);
    await enqueue(store, 1, { size: 400 }, 'late');
    expect((await b.runFlushOnce()).batches).toEqual([]);
    clock.advance(60_000);
    expect((await b.runFlushOnce()).batches.map((x) => x.reason)).toEqual(['time']);
  });
});

describe('manual flush through the {flush} queue', () => {
  it('flushNow is served by a worker and returns its report', async () => {
    // A batcher whose worker serves the {flush} queue, and one that only asks it to flush.
    const { prefix, store } = await fresh({ runWorker: true, tickMs: 3600_000 });
    await enqueue(store, 7);
    const cli = await batcherFor(env, prefix, { runWorker: false });
    env.open.push(cli);
    const r = await cli.flushNow();
    expect(r.trigger).toBe('manual');
    expect(r.batches.map((x) => [x.reason, x.requestCount])).toEqual([['manual', 7]]);
    const hb = await store.heartbeats.list();
    expect(hb.map((h) => h.role)).toEqual(['batcher']); // the worker only, not the CLI
  });
});

describe('splitting and grouping', () => {
  it('drains a backlog larger than one batch into batches within maxRequests', async () => {
    const { b, store } = await fresh({ maxRequests: 10, claimChunk: 3 });
    await enqueue(store, 25);
    const r = await b.runFlushOnce('manual');
    expect(r.batches.map((x) => x.requestCount)).toEqual([10, 10, 5]);
    const all = batchContents(env, r).flat();
    expect(new Set(all).size).toBe(25);
  });

  it('keeps a cache-prefix group together rather than splitting it over two batches', async () => {
    const { b, store } = await fresh({ maxRequests: 6 });
    await enqueue(store, 4, { group: 'A' }, 'a');
    clock.advance(1);
    await enqueue(store, 4, { group: 'B' }, 'b');
    clock.advance(1);
    await enqueue(store, 2, { group: 'C' }, 'c');
    const r = await b.runFlushOnce('manual');
    const contents = batchContents(env, r).map((ids) => [...new Set(ids.map((id) => id[0]))].sort().join(''));
    // A (4) then B would not fit (4 + 4 > 6): A alone; B + C (6) fit together.
    expect(contents).toEqual(['a', 'bc']);
  });

  it('keeps groups together under the bytes limit too, and splits only a group larger than a batch', async () => {
    const item = makeItem('x', { size: 200 });
    const maxBytes = 15 + 5 * (item.bytes + 1) + 20;
    const { b, store } = await fresh({ maxBytes });
    await enqueue(store, 3, { group: 'A', size: 200 }, 'a');
    clock.advance(1);
    await enqueue(store, 3, { group: 'B', size: 200 }, 'b');
    clock.advance(1);
    await enqueue(store, 7, { group: 'C', size: 200 }, 'c');
    const r = await b.runFlushOnce('manual');
    const groups = batchContents(env, r).map((ids) => ids.map((id) => id[0]).join(''));
    expect(groups).toEqual(['aaa', 'bbb', 'ccccc', 'cc']);
    for (const x of r.batches) expect(x.bytes).toBeLessThanOrEqual(maxBytes);
  });

  it('never mixes partitions, and a manual flush can name one partition', async () => {
    const { b, store } = await fresh();
    await enqueue(store, 3, { partition: 'acme' }, 'acme');
    await enqueue(store, 2, { partition: 'globex' }, 'globex');
    const one = await b.runFlushOnce('manual');
    expect(one.batches).toHaveLength(2);
    for (const ids of batchContents(env, one)) {
      expect(new Set(ids.map((id) => id.split('-')[0])).size).toBe(1);
    }
    await enqueue(store, 2, { partition: 'acme' }, 'acme2');
    await enqueue(store, 2, { partition: 'globex' }, 'globex2');
    const prefix = (store as unknown as { prefix: string }).prefix;
    const worker = await batcherFor(env, prefix, { runWorker: true, tickMs: 3600_000 });
    env.open.push(worker);
    const r = await worker.flushNow({ partition: 'acme' });
    expect(r.batches.map((x) => [x.partition, x.requestCount])).toEqual([['acme', 2]]);
    expect((await store.pending.overview(clock.now())).partitions.get('globex')?.count).toBe(2);
  });
});
