import { hostname } from 'node:os';
import { type CliContext, UsageError } from '../context.js';

/**
 * Exit 0 when a process of `role` on this host has sent a heartbeat recently (container health
 * checks), 1 otherwise.
 */
export async function health(ctx: CliContext, role: string | undefined, maxAgeMs: number): Promise<number> {
  if (role !== 'batcher' && role !== 'collector' && role !== 'webhooks')
    throw new UsageError('health needs a role: batcher, collector or webhooks');
  const beats = (await ctx.store.heartbeats()).filter((b) => b.role === role && b.host === hostname());
  const fresh = beats.filter((b) => Date.now() - b.at <= maxAgeMs);
  if (ctx.json) ctx.out(JSON.stringify({ role, healthy: fresh.length > 0, heartbeats: beats }));
  else
    ctx.out(
      fresh.length
        ? `${role}: healthy`
        : `${role}: no heartbeat from ${hostname()} in the last ${maxAgeMs / 1000}s`,
    );
  return fresh.length ? 0 : 1;
}
