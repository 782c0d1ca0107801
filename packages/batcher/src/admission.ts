import type { FlushContext } from './context.js';

/** The room a flush has at the API's processing queue. */
export interface Room {
  /** `maxInFlightRequests` (0: no cap). */
  cap: number;
  /** Requests in flight when the flush decided (store.admission.inFlight). */
  inFlight: number;
  /** What the flush may still submit: cap − in flight, less what it claimed since; Infinity with no cap. */
  left: number;
}

/**
 * The room left under the cap, read from the store under the flush lock: every batcher of the
 * prefix counts the same batches and open creates, and only one flush runs at a time, so the sum
 * of what the flushes submit never passes the cap (ARCHITECTURE.md "Admission").
 */
export async function readRoom(ctx: FlushContext): Promise<Room> {
  const cap = ctx.opts.maxInFlightRequests;
  const inFlight = (await ctx.store.admission.inFlight()).requests;
  return { cap, inFlight, left: cap === 0 ? Number.POSITIVE_INFINITY : Math.max(0, cap - inFlight) };
}

/**
 * Shares `room` among demands by water-filling (pure): every demand gets an equal share, a demand
 * smaller than its share gets what it asks and the rest is shared again among the larger ones; a
 * remainder too small to split goes one each to the first demands, in the order given (callers
 * pass the oldest first). So a small partition is served whole beside a large backlog, and no
 * demand gets more than it asked.
 */
export function shareRoom(demands: readonly number[], room: number): number[] {
  const out = demands.map(() => 0);
  let left = room;
  let open = demands.map((_, i) => i).filter((i) => demands[i]! > 0);
  while (left > 0 && open.length > 0) {
    const share = Math.floor(left / open.length);
    if (share === 0) {
      for (const i of open.slice(0, left)) out[i]! += 1;
      break;
    }
    const next: number[] = [];
    for (const i of open) {
      const give = Math.min(share, demands[i]! - out[i]!);
      out[i]! += give;
      left -= give;
      if (out[i]! < demands[i]!) next.push(i);
    }
    open = next;
  }
  return out;
}
