import type { Store } from '@nightshift/store';

export interface Progress {
  total: number;
  queued: number;
  retrying: number;
  inFlight: number;
  succeeded: number;
  dead: number;
  /** Requests that needed more than one attempt so far. */
  retried: number;
  batches: number;
}

/** Counts the demo's requests by state (one pipelined read of every record). */
export async function readProgress(store: Store, cids: string[]): Promise<Progress> {
  const recs = await store.records.peek(cids, ['state', 'attempt']);
  const p: Progress = {
    total: cids.length,
    queued: 0,
    retrying: 0,
    inFlight: 0,
    succeeded: 0,
    dead: 0,
    retried: 0,
    batches: 0,
  };
  for (const r of recs) {
    if (!r) continue;
    const attempt = Number(r.attempt);
    if (attempt > 1) p.retried++;
    if (r.state === 'queued') attempt > 1 ? p.retrying++ : p.queued++;
    else if (r.state === 'claimed' || r.state === 'realtime') p.inFlight++;
    else if (r.state === 'succeeded') p.succeeded++;
    else if (r.state === 'dead') p.dead++;
  }
  p.batches = await store.batches.count();
  return p;
}

export function renderProgress(p: Progress, width = 30): string {
  const done = p.succeeded + p.dead;
  const filled = p.total ? Math.round((done / p.total) * width) : width;
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  return (
    `[${bar}] ${done}/${p.total}  queued ${p.queued}  in flight ${p.inFlight}  retrying ${p.retrying}  ` +
    `succeeded ${p.succeeded}  retried ${p.retried}  dead ${p.dead}  batches ${p.batches}`
  );
}
