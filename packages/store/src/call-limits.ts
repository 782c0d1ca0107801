/**
 * How big one script call may be. Managed Redis services refuse larger commands: ElastiCache
 * Serverless more than 3,999 arguments (the command name included), Upstash a request over 10 MB.
 * Every store call that carries many items is cut into chunks that stay within both
 * (ARCHITECTURE.md, "Managed Redis").
 */

/** The most arguments of one command, its name included (ElastiCache Serverless' limit). */
export const MAX_COMMAND_ARGS = 3_999;

/** The most bytes of arguments of one command: under Upstash's 10 MB request cap, with room to spare. */
export const MAX_COMMAND_BYTES = 8 * 1024 * 1024;

/**
 * Arguments every store script call sends besides its own: EVALSHA, the sha, numkeys, KEYS[1] (the
 * stats key) and ARGV[1] (the key base).
 */
const SCRIPT_OVERHEAD_ARGS = 5;

/** What one chunked call may hold. */
export interface ChunkLimits {
  /** Arguments of the script's own before the items (`now`, counts, …). */
  fixedArgs: number;
  /** Arguments per item. */
  perItem: number;
  /** The most items per call whatever the limits allow (a cap of the caller's own, e.g. 1,000). */
  maxItems?: number;
  /** Bytes of one item's arguments (an upper bound is enough); omitted: items are small. */
  bytesOf?: (index: number) => number;
}

/**
 * Cuts `n` items into runs `[start, end)` whose script call stays within {@link MAX_COMMAND_ARGS}
 * and {@link MAX_COMMAND_BYTES}. An item larger than the byte cap alone is one run of its own.
 */
export function callChunks(n: number, limits: ChunkLimits): [start: number, end: number][] {
  const byArgs = Math.floor((MAX_COMMAND_ARGS - SCRIPT_OVERHEAD_ARGS - limits.fixedArgs) / limits.perItem);
  const most = Math.max(1, Math.min(byArgs, limits.maxItems ?? byArgs));
  const out: [number, number][] = [];
  let start = 0;
  while (start < n) {
    let end = start;
    let bytes = 0;
    while (end < n && end - start < most) {
      const b = limits.bytesOf ? limits.bytesOf(end) : 0;
      if (end > start && bytes + b > MAX_COMMAND_BYTES) break;
      bytes += b;
      end++;
    }
    out.push([start, end]);
    start = end;
  }
  return out;
}

/** Bytes of the arguments of one item: its large strings exactly, plus room for its small fields. */
export const argBytes = (...large: string[]) => large.reduce((sum, s) => sum + Buffer.byteLength(s), 256);
