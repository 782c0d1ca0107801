import type { AddressInfo } from 'node:net';
import { Engine } from './engine.js';
import { defaultRespond } from './prompt.js';
import { createHttpServer } from './server.js';
import type { Emulator, EmulatorOptions, InspectedBatch } from './types.js';

export type {
  Emulator,
  EmulatorClock,
  EmulatorControl,
  EmulatorInspect,
  EmulatorOptions,
  EmulatorStats,
  Fault,
  FaultEndpoint,
  HttpLogEntry,
  InFlight,
  InjectionHandle,
  InspectedBatch,
  InspectedRequest,
  MessageBatchObject,
  MessageBatchRequestCounts,
  OutcomeRule,
  ProcessingMode,
  ProcessingQueueCap,
  ResponderRequest,
} from './types.js';

/**
 * The default responder (deterministic in the system prompt and messages): answers one of the labels of a
 * `Labels: a, b, c` line in the last user message, otherwise a short sentence quoting a hash of the input.
 * Exported so a custom `respond` can fall back to it.
 */
export { defaultRespond };

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/**
 * Starts an emulator of Anthropic's Message Batches API (`/v1/messages/batches`) and of the non-streaming
 * Messages API (`POST /v1/messages`) on a local port. Point the SDK at `emulator.url`.
 *
 * @example
 * const emu = await startEmulator({ minCacheableTokens: 64 });
 * const client = new Anthropic({ apiKey: 'test-key', baseURL: emu.url });
 * // …
 * await emu.close();
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const quiet = opts.quiet ?? false;
  const engine = new Engine({
    now: opts.now ?? Date.now,
    processing: opts.processing ?? 'instant',
    minCacheableTokens: opts.minCacheableTokens ?? 1024,
    inferenceGeo: opts.inferenceGeo ?? null,
    processingQueue: opts.processingQueue ?? null,
    respond: opts.respond ?? defaultRespond,
    recordRequests: opts.recordRequests ?? true,
    quiet,
  });
  const { server, shutdown, log } = createHttpServer(engine, {
    apiKey: opts.apiKey,
    maxBodyBytes: opts.maxBodyBytes ?? 256 * 1024 * 1024,
    wildcardHost: WILDCARD_HOSTS.has(host),
    quiet,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = WILDCARD_HOSTS.has(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  engine.baseUrl = url;

  const mustGet = (id: string) => {
    const b = engine.get(id);
    if (!b) throw new Error(`emulator: unknown batch id ${id}`);
    return b;
  };

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        shutdown();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    clock: {
      now: () => engine.nowMs(),
      advance: (ms) => engine.advance(ms),
      set: (ms) => engine.setClock(ms),
    },
    control: {
      setProcessing: (mode) => engine.setProcessing(mode),
      process(batchId, count) {
        const b = mustGet(batchId);
        engine.processManually(b, count);
        return engine.inspectBatch(b);
      },
      complete(batchId) {
        const targets = batchId === undefined ? engine.all().filter((b) => !b.deleted) : [mustGet(batchId)];
        const done: InspectedBatch[] = [];
        for (const b of targets) {
          engine.tick(b, false);
          if (b.status === 'ended') continue;
          engine.completeNow(b);
          done.push(engine.inspectBatch(b));
        }
        return done;
      },
      injectOutcome: (rule) => engine.injectOutcome(rule),
      injectFault: (fault) => engine.injectFault(fault),
      clearFaults: () => engine.clearFaults(),
      clearOutcomes: () => engine.clearOutcomes(),
      cancelAsOperator(batchId) {
        const b = mustGet(batchId);
        const out = engine.cancel(b);
        if (!out.ok) throw new Error(`emulator: ${out.message}`);
        return engine.inspectBatch(b);
      },
      setProcessingQueue: (cap) => engine.setProcessingQueue(cap),
    },
    inspect: {
      batches: () => engine.all().map((b) => engine.inspectBatch(b)),
      batch: (id) => {
        const b = engine.get(id);
        return b ? engine.inspectBatch(b) : undefined;
      },
      requests: (batchId) => engine.inspectRequests(mustGet(batchId)),
      inFlight: () => engine.inFlight(),
      createCalls: () => engine.stats.createCalls,
      stats: () => structuredClone(engine.stats),
      httpLog: () => log(),
    },
  };
}
