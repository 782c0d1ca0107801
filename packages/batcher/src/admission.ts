import type { FlushContext } from './context.js';

/** The room a flush has at the API's processing queue. */
export interface Room {
  /** `maxInFlightRequests` (0: no cap). */
  cap: number;
  /** Requests in flight when the flush decided (store.admission.inFlight). */
  inFlight: number;
  /** What the flush may still submit: cap − in flight, less what it claimed since; Infinity with no cap. */
  left: number;
  /** The smallest share a short room gives a large backlog ({@link minShare}). */
  minShare: number;
  /** The partition that took the last chunk of a short room (shareShortRoom's turn goes on after it). */
  turn: string | undefined;
}

/**
 * The smallest share admission gives a partition from a short room: a tenth of the cap, at most
 * `maxRequests`. Without a floor, room that frees one batch at a time is split between every
 * backlogged partition again and again, and the batches shrink towards one request each (a create,
 * a tracking job and polls per handful of requests).
 */
export function minShare(cap: number, maxRequests: number): number {
  return Math.max(1, Math.min(maxRequests, Math.ceil(cap / 10)));
}

/**
 * The room left under the cap, read from the store under the flush lock: every batcher of the
 * prefix counts the same batches and open creates, and only one flush runs at a time, so the sum
 * of what the flushes submit never passes the cap (ARCHITECTURE.md "Admission").
 */
export async function readRoom(ctx: FlushContext): Promise<Room> {
  const cap = ctx.opts.maxInFlightRequests;
  const [now, last] = await Promise.all([ctx.store.admission.inFlight(), ctx.store.admission.last()]);
  return {
    cap,
    inFlight: now.requests,
    left: cap === 0 ? Number.POSITIVE_INFINITY : Math.max(0, cap - now.requests),
    minShare: minShare(cap, ctx.opts.maxRequests),
    turn: last?.turn,
  };
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

/**
 * Shares `room` as {@link shareRoom} does while that gives every demand it cannot serve whole at
 * least `min` (pure). When the room is shorter than that, the demands water-filling serves whole
 * still get all they ask (a small partition goes whole beside large backlogs), and the rest of the
 * room goes in chunks of `min` (a demand's rest, if smaller) to the others, one chunk each, in
 * `order` (indexes; the caller rotates it between flushes, so every backlog gets its turn); a
 * chunk that does not fit is skipped, and what is left below a chunk waits for batches to end.
 * `short` says whether the chunks were used.
 */
export function shareShortRoom(
  demands: readonly number[],
  room: number,
  min: number,
  order: readonly number[],
): { shares: number[]; short: boolean } {
  const shares = shareRoom(demands, room);
  const partial = demands.flatMap((d, i) => (shares[i]! < d ? [i] : []));
  if (partial.every((i) => shares[i]! >= min)) return { shares, short: false };
  let left = room;
  for (const [i, v] of shares.entries()) if (!partial.includes(i)) left -= v;
  for (const i of partial) shares[i] = 0;
  for (const i of order) {
    if (!partial.includes(i)) continue;
    const chunk = Math.min(min, demands[i]!);
    if (chunk > left) continue;
    shares[i] = chunk;
    left -= chunk;
  }
  return { shares, short: true };
}

/**
 * Indexes of `names` sorted by name, starting after `turn` (the partition that took the last chunk
 * of the previous short room) and wrapping: round-robin that survives partitions coming and going.
 */
export function rotation(names: readonly string[], turn: string | undefined): number[] {
  const sorted = names
    .map((_, i) => i)
    .sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  if (turn === undefined) return sorted;
  const at = sorted.findIndex((i) => names[i]! > turn);
  return at <= 0 ? sorted : [...sorted.slice(at), ...sorted.slice(0, at)];
}
