import { hostname } from 'node:os';
import { jobIds } from '@nightshift/shared';
import { openQueue } from '@nightshift/store';
import { type CliContext, UsageError } from '../context.js';

/** The scheduler that gives each role its work (put back by any process of the role at start-up). */
const SCHEDULERS = {
  batcher: { queue: 'flush', id: jobIds.flushScheduler },
  collector: { queue: 'collect', id: jobIds.collectScheduler },
} as const;

/**
 * Exit 0 when a process of `role` on this host has sent a heartbeat recently and the scheduler
 * that drives the role exists (batcher, collector; container health checks), 1 otherwise. A process whose scheduler
 * was removed (e.g. from Bull Board) beats but never gets work; failing its health check gets it
 * restarted, and its start-up puts the scheduler back.
 */
export async function health(ctx: CliContext, role: string | undefined, maxAgeMs: number): Promise<number> {
  if (role !== 'batcher' && role !== 'collector' && role !== 'webhooks')
    throw new UsageError('health needs a role: batcher, collector or webhooks');
  // The webhooks role has no scheduler: its dispatcher and delivery workers run while it lives.
  const driver = role === 'webhooks' ? null : SCHEDULERS[role];
  let scheduler = true;
  if (driver) {
    const queue = openQueue(driver.queue, ctx.redis, ctx.config.prefix);
    try {
      scheduler = !!(await queue.getJobScheduler(driver.id));
    } finally {
      await queue.close();
    }
  }
  const beats = (await ctx.store.heartbeats.list()).filter((b) => b.role === role && b.host === hostname());
  const fresh = beats.filter((b) => Date.now() - b.at <= maxAgeMs);
  const healthy = fresh.length > 0 && scheduler;
  if (ctx.json) ctx.out(JSON.stringify({ role, healthy, scheduler, heartbeats: beats }));
  else if (healthy) ctx.out(`${role}: healthy`);
  else if (!fresh.length) ctx.out(`${role}: no heartbeat from ${hostname()} in the last ${maxAgeMs / 1000}s`);
  else
    ctx.out(
      `${role}: the ${driver?.id} scheduler is missing, so no ${role} gets work; restart a ${role} (it puts it back)`,
    );
  return healthy ? 0 : 1;
}
