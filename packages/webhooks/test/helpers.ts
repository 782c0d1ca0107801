import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_PRICES } from '@nightshift/shared';
import {
  type ApplyItem,
  buildSuccess,
  deliverResults,
  type EnqueueItem,
  openQueue,
  resultsWantedByWebhooks,
  type Store,
} from '@nightshift/store';
import { rawStore } from '@nightshift/store/testing';
import { keepOutput, queuedItem, spawnTs, waitFor } from '@nightshift/testing';

const RECEIVER = new URL('./fixtures/receiver.ts', import.meta.url).pathname;

export interface Received {
  path: string;
  id: string;
  attempt: number;
  status: number;
  verified: boolean;
  slow: boolean;
  type: string;
  body: string;
}

/** The receiver process (see fixtures/receiver.ts): start, kill, restart on the same port. */
export function receiver(config: Record<string, unknown> & { port: number; log: string }) {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnTs(RECEIVER, [JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out = keepOutput(child);
    await waitFor(() => out().includes('listening'), { timeoutMs: 15_000, what: 'the receiver to listen' });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await gone;
  };
  const received = (): Received[] =>
    existsSync(config.log)
      ? readFileSync(config.log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Received)
      : [];
  return { start, kill, received };
}

export const item = (cid: string, over: Partial<EnqueueItem> = {}): EnqueueItem =>
  queuedItem(cid, { meta: JSON.stringify({ doc: cid }), ...over });

/**
 * Makes requests succeed as the collector does: applies the successes (naming their `{results}`
 * job) and adds that job, with a text per request.
 */
export async function succeed(
  store: Store,
  cids: string[],
  batchId = 'msgbatch_1',
  text = (c: string) => `summary of ${c}`,
) {
  const jobId = `res-${batchId}-${cids[0]}`;
  const items: ApplyItem[] = [];
  const payloads = [];
  for (const cid of cids) {
    const message = {
      id: `msg_${cid}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [{ type: 'text', text: text(cid), citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 100, output_tokens: 10, service_tier: 'batch' },
    };
    const s = buildSuccess({
      customId: cid,
      feature: 'digest',
      model: 'claude-haiku-4-5',
      metadata: { doc: cid },
      message: message as never,
      batchId,
      attempt: 1,
      mode: 'batch',
      prices: DEFAULT_PRICES,
    });
    items.push({ ...s.item, delivery: jobId });
    payloads.push(s.payload);
  }
  await store.outcomes.apply(items);
  const queue = openQueue('results', rawStore(store).redis, store.prefix);
  // As the collector does: kept a day after completion while an endpoint wants request.succeeded.
  await deliverResults(queue, [{ id: jobId, results: payloads }], {
    keepCompleted: await resultsWantedByWebhooks(store),
  });
  await queue.close();
}
