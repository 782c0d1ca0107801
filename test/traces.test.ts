/**
 * One request's way through its batch as an operator's trace backend sees it: the real pipeline
 * (producer, batcher, collector, result worker, the SDK against the emulator) with an OpenTelemetry
 * SDK registered the way an operator would (a tracer provider and an AsyncLocalStorage context
 * manager), spans kept in memory. Without a provider nothing is traced (the last test).
 */
import Anthropic from '@anthropic-ai/sdk';
import { startBatcher } from '@nightshift/batcher';
import { startCollector } from '@nightshift/collector';
import { type Emulator, startEmulator } from '@nightshift/emulator';
import { createProducer, createResultWorker } from '@nightshift/producer';
import type { ResultJobData } from '@nightshift/shared';
import { createRedis } from '@nightshift/store';
import { ATTR, SPANS } from '@nightshift/telemetry';
import { classifyRequest, silentLogger, useRedis, waitFor } from '@nightshift/testing';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fx = useRedis((url) => createRedis({ url: url }, 'worker'));
let emu: Emulator;
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
});
afterAll(async () => {
  trace.disable();
  context.disable();
  await emu.close();
});

/** The data of every `{results}` job a pipeline's worker handled (completed jobs are removed). */
const handledJobs: ResultJobData[] = [];

/** Runs 3 requests through every role; returns the custom_ids delivered. */
async function pipeline(prefix: string): Promise<string[]> {
  const client = new Anthropic({ apiKey: 'k', baseURL: emu.url, maxRetries: 0 });
  const producer = createProducer({ connection: fx.redis, prefix, logger: silentLogger });
  const batcher = await startBatcher({
    connection: fx.redis,
    prefix,
    client,
    runWorker: false,
    logger: silentLogger,
  });
  const collector = await startCollector({
    connection: fx.redis,
    prefix,
    client,
    pollMs: 100,
    maxPollMs: 200,
    logger: silentLogger,
  });
  const delivered: string[] = [];
  const worker = createResultWorker({
    connection: fx.redis,
    prefix,
    logger: silentLogger,
    handler: async (r, job) => {
      delivered.push(r.customId);
      handledJobs.push(job.data);
    },
  });
  try {
    await producer.enqueueMany(['a', 'b', 'c'].map((key) => classifyRequest(key)));
    await batcher.runFlushOnce('manual');
    await waitFor(() => delivered.length === 3, { what: 'three results delivered', timeoutMs: 20_000 });
    return delivered;
  } finally {
    await worker.close();
    await collector.close();
    await batcher.close();
    await producer.close();
  }
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const linksTo = (s: ReadableSpan, target: ReadableSpan) =>
  s.links.some(
    (l) =>
      l.context.spanId === target.spanContext().spanId && l.context.traceId === target.spanContext().traceId,
  );

describe('with a tracer provider registered', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });

  it('links flush → create → poll → apply → delivery, so one request is followed through its batch', async () => {
    exporter.reset();
    const delivered = await pipeline('traced');
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();

    const [flush] = named(spans, SPANS.flush);
    const [create] = named(spans, SPANS.create);
    expect(flush?.attributes[ATTR.result]).toBe('submitted');
    expect(parentOf(create!)).toBe(flush!.spanContext().spanId);
    const batchId = create!.attributes[ATTR.batchId];
    expect(batchId).toMatch(/^msgbatch_/);
    expect(create!.attributes[ATTR.requests]).toBe(3);
    // The SDK's own span of the call nests under ours (the context manager carries it).
    expect(spans.some((s) => s !== create && parentOf(s) === create!.spanContext().spanId)).toBe(true);

    // Every poll of the batch is a trace of its own that links back to the create.
    const polls = named(spans, SPANS.poll).filter((s) => s.attributes[ATTR.batchId] === batchId);
    expect(polls.length).toBeGreaterThan(0);
    for (const p of polls) expect(linksTo(p, create!)).toBe(true);
    const ended = polls.find((p) => p.attributes[ATTR.status] === 'ended');
    expect(ended).toBeDefined();

    const applies = named(spans, SPANS.apply);
    expect(applies.length).toBeGreaterThan(0);
    for (const a of applies) expect(parentOf(a)).toBe(ended!.spanContext().spanId);

    // One delivery per request, named by its custom_id, linked to the apply that produced it.
    const deliveries = named(spans, SPANS.deliver);
    expect(deliveries.map((d) => d.attributes[ATTR.customId]).sort()).toEqual([...delivered].sort());
    for (const d of deliveries) {
      expect(d.attributes[ATTR.batchId]).toBe(batchId);
      expect(applies.some((a) => linksTo(d, a))).toBe(true);
    }
  });

  it('records a refused create on its span, with the error family', async () => {
    exporter.reset();
    const client = new Anthropic({ apiKey: 'k', baseURL: emu.url, maxRetries: 0 });
    const producer = createProducer({ connection: fx.redis, prefix: 'refused', logger: silentLogger });
    const batcher = await startBatcher({
      connection: fx.redis,
      prefix: 'refused',
      client,
      runWorker: false,
      logger: silentLogger,
    });
    const fault = emu.control.injectFault({ endpoint: 'create', kind: 'status', status: 429, times: 1 });
    try {
      await producer.enqueue(classifyRequest('x'));
      await batcher.runFlushOnce('manual');
    } finally {
      fault.remove();
      await batcher.close();
      await producer.close();
    }
    await provider.forceFlush();
    const [create] = named(exporter.getFinishedSpans(), SPANS.create);
    expect(create?.attributes[ATTR.errorFamily]).toBe('rate-limit');
    expect(create?.status.code).toBe(2); // SpanStatusCode.ERROR
  });
});

describe('without a tracer provider', () => {
  it('records nothing and stores no trace context', async () => {
    trace.disable();
    exporter.reset();
    handledJobs.length = 0;
    await pipeline('untraced');
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(handledJobs.length).toBeGreaterThan(0);
    for (const data of handledJobs) expect(data.trace).toBeUndefined();
  });
});
