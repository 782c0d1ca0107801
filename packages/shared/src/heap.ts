import { setFlagsFromString } from 'node:v8';
import { SETTINGS } from './config.js';

/** `NIGHTSHIFT_HEAP_GROWING_PERCENT`'s default. */
const DEFAULT_HEAP_GROWING_PERCENT: number = SETTINGS.NIGHTSHIFT_HEAP_GROWING_PERCENT.schema.parse(undefined);

/**
 * Lets V8's old generation grow only `percent` % past the live heap before the next full GC (V8
 * flag `--heap-growing-percent`; 0 leaves V8's own choice). A batcher or collector keeps a constant
 * live heap (one chunk of requests or results at a time) but allocates fast, and V8 then lets a busy
 * heap reach about 4× its live size: a 100,000-result batch peaked 35 % above a 10,000 one in
 * memory, with the same ~30 MB live after each full GC. At 100 % both peak alike, for no measurable
 * CPU (BENCHMARKS.md). It changes the whole process: the role bins call it, an application that
 * embeds a role may.
 */
export function boundHeapGrowth(percent: number = DEFAULT_HEAP_GROWING_PERCENT): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
}
