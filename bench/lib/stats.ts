/** A figure measured over several runs: the median, with min and max, and every run's value. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** Median (mean of the middle two for an even count), min and max; values rounded to 3 decimals. */
export function summarize(values: number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { median: r(median), min: r(sorted[0]!), max: r(sorted.at(-1)!), runs: values.map(r) };
}

/** Summarizes one numeric field across runs. */
export function field<T>(runs: T[], pick: (run: T) => number): Summary {
  return summarize(runs.map(pick));
}
