import { coreOf } from './core.js';
import { type CancelResult, parseCancel } from './replies.js';
import type { Store } from './store.js';

const CHUNK = 1000;

/**
 * Cancels requests that are still only queued (cancel.lua, 1,000 ids per atomic call). A claimed,
 * in-batch or real-time request is not touched: its outcome is already on its way and will be
 * applied as usual. The HTTP API's `DELETE /v1/requests/{custom_id}` and the producer's `cancel`
 * call this.
 */
export async function cancelRequests(store: Store, cids: string[], now: number): Promise<CancelResult[]> {
  const out: CancelResult[] = [];
  for (let i = 0; i < cids.length; i += CHUNK) {
    const codes = (await coreOf(store).script('nsCancel', now, ...cids.slice(i, i + CHUNK))) as string[];
    for (const raw of codes) out.push(parseCancel(raw));
  }
  return out;
}
