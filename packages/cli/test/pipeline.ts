import Anthropic from '@anthropic-ai/sdk';
import { type Batcher, type BatcherOptions, startBatcher } from '@nightshift/batcher';
import { type Collector, type CollectorOptions, startCollector } from '@nightshift/collector';
import { createProducer, createResultWorker, type Producer } from '@nightshift/producer';
import type { RedisClient } from '@nightshift/store';
import { silentLogger } from '@nightshift/testing';

/** What {@link startPipeline} started. */
export interface InProcessPipeline {
  producer: Producer;
  /** One per instance asked for. */
  batchers: Batcher[];
  /** The first of {@link batchers} (the only one unless instances were asked for). */
  batcher: Batcher;
  collector: Collector;
  /** The custom_ids the result worker has been handed, each once. */
  delivered: Set<string>;
  /** Stops the result worker, the collector, the batchers and the producer, in that order. */
  close(): Promise<void>;
}

/**
 * Every role in this process, on one worker connection and `prefix`, against the emulator at
 * `emuUrl` (the SDK's own retries off): a producer, one batcher per `instances`, a collector, and a
 * result worker that records what it is handed. `batcher`, `collector` and `workerConcurrency` set
 * what the test depends on.
 */
export async function startPipeline(o: {
  connection: RedisClient;
  prefix: string;
  emuUrl: string;
  instances?: string[];
  batcher?: Partial<BatcherOptions>;
  collector?: Partial<CollectorOptions>;
  workerConcurrency?: number;
}): Promise<InProcessPipeline> {
  const { connection, prefix } = o;
  const client = new Anthropic({ apiKey: 'k', baseURL: o.emuUrl, maxRetries: 0 });
  const logger = silentLogger;
  const producer = createProducer({ connection, prefix, logger });
  const batchers = await Promise.all(
    (o.instances ?? [undefined]).map((instance) =>
      startBatcher({ connection, prefix, client, logger, ...(instance ? { instance } : {}), ...o.batcher }),
    ),
  );
  const collector = await startCollector({ connection, prefix, client, logger, ...o.collector });
  const delivered = new Set<string>();
  const worker = createResultWorker({
    connection,
    prefix,
    logger,
    ...(o.workerConcurrency ? { concurrency: o.workerConcurrency } : {}),
    handler: async (r) => void delivered.add(r.customId),
  });
  return {
    producer,
    batchers,
    batcher: batchers[0]!,
    collector,
    delivered,
    close: async () => {
      await worker.close();
      await collector.close();
      await Promise.all(batchers.map((b) => b.close()));
      await producer.close();
    },
  };
}
