import { toJson } from './canonical.js';
import { sha256 } from './hash.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A block carries a cache breakpoint when it, or a block nested in its `content`, has `cache_control`. */
function hasBreakpoint(block: unknown): boolean {
  if (!isObj(block)) return false;
  if (block.cache_control != null) return true;
  const inner = block.content;
  return Array.isArray(inner) && inner.some((b) => isObj(b) && b.cache_control != null);
}

/** The prompt up to its last breakpoint, or null when no block carries `cache_control`. */
function cutAtLastBreakpoint(params: Obj): Obj | null {
  const tools = Array.isArray(params.tools) ? params.tools : undefined;
  const system = params.system;
  const messages = Array.isArray(params.messages) ? params.messages : [];
  let cut: Obj | null = null;
  // Walk backwards: the first breakpoint found from the end is the last one in prompt order.
  for (let m = messages.length - 1; m >= 0 && !cut; m--) {
    const msg = messages[m];
    if (!isObj(msg) || !Array.isArray(msg.content)) continue;
    for (let b = msg.content.length - 1; b >= 0; b--) {
      if (hasBreakpoint(msg.content[b])) {
        const last = { ...msg, content: msg.content.slice(0, b + 1) };
        cut = { tools, system, messages: [...messages.slice(0, m), last] };
        break;
      }
    }
  }
  if (!cut && Array.isArray(system)) {
    for (let b = system.length - 1; b >= 0; b--) {
      if (hasBreakpoint(system[b])) {
        cut = { tools, system: system.slice(0, b + 1) };
        break;
      }
    }
  }
  if (!cut && tools) {
    for (let b = tools.length - 1; b >= 0; b--) {
      if (hasBreakpoint(tools[b])) {
        cut = { tools: tools.slice(0, b + 1) };
        break;
      }
    }
  }
  return cut;
}

/**
 * The group of a request: requests of one partition and model that share a cache prefix. The batcher
 * keeps a group in one batch so the cache written by the first request serves the others.
 *
 *   group  = first 16 hex chars of sha256(partition "\n" model "\n" prefix)
 *   prefix = canonical JSON of the prompt in the order the API caches it (tools, then system, then
 *            messages), cut right after the LAST block that carries `cache_control`; without any
 *            breakpoint, canonical JSON of `{tools, system}` (requests sharing a system prompt still
 *            go together).
 */
export function groupKey(partition: string, model: string, params: Obj): string {
  const cut = cutAtLastBreakpoint(params);
  // The common bulk case (same string system prompt, no tools, no breakpoint) is answered from the last
  // call: strings are immutable, so equal inputs give the same group. Objects are never memoized (the
  // caller may mutate them between calls).
  const memoable = !cut && params.tools === undefined && typeof params.system !== 'object';
  if (
    memoable &&
    last &&
    last.partition === partition &&
    last.model === model &&
    last.system === params.system
  ) {
    return last.group;
  }
  const prefix = toJson(cut ?? { tools: params.tools, system: params.system }, true);
  const group = sha256(`${partition}\n${model}\n${prefix}`).slice(0, 16);
  if (memoable) last = { partition, model, system: params.system, group };
  return group;
}

let last: { partition: string; model: string; system: unknown; group: string } | null = null;
