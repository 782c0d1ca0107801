import { startBatcher } from '@nightshift/batcher';
import type { CliContext } from '../context.js';

/**
 * Asks the batcher to flush now. The request goes through the `{flush}` queue, so it is single-flight
 * with the scheduler's ticks; a running batcher process picks it up and this command waits for it.
 */
export async function flush(ctx: CliContext, partition: string | undefined): Promise<number> {
  const alive = (await ctx.store.heartbeats.list()).filter(
    (b) => b.role === 'batcher' && Date.now() - b.at < 60_000,
  );
  if (alive.length === 0) {
    ctx.err('No batcher is running (no heartbeat in the last minute): start one, then flush again.');
    return 1;
  }
  const batcher = await startBatcher({
    connection: ctx.redis,
    prefix: ctx.config.prefix,
    client: ctx.anthropic(),
    runWorker: false,
  });
  try {
    const report = await batcher.flushNow(partition ? { partition } : {});
    if (ctx.json) ctx.out(JSON.stringify(report, null, 2));
    else {
      const n = report.batches.length;
      ctx.out(
        n
          ? `Flushed ${n} batch(es): ${report.batches.map((b) => `${b.batchId} (${b.requestCount} requests)`).join(', ')}`
          : 'Nothing to flush.',
      );
    }
    return 0;
  } finally {
    await batcher.close();
  }
}
