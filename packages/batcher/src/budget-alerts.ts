import type { FlushContext } from './context.js';

const usd = (n: number) => `$${n.toFixed(2)}`;

/**
 * Raises the `budget` alert of each budget whose reserved + spent reached its alert fraction, and
 * clears it once the window resets or the limit is raised (ARCHITECTURE.md "Budgets"). Run after
 * every flush under the flush lock: one flush's reservations are all counted when it looks.
 */
export async function checkBudgetAlerts(ctx: FlushContext, now: number): Promise<void> {
  const { store } = ctx;
  const usage = await store.budgets.usage(now);
  const live = new Set<string>();
  for (const u of usage) {
    const used = u.reserved + u.spent;
    const fraction = u.limitUsd > 0 ? used / u.limitUsd : used > 0 ? 1 : 0;
    if (fraction < u.alertAt) continue;
    live.add(u.id);
    const atLimit =
      u.mode === 'hold'
        ? `requests past it stay queued until ${new Date(u.resetsAt).toISOString()} or the limit is raised`
        : 'enqueue refuses what would pass it';
    const alert = {
      code: 'budget' as const,
      budget: u.id,
      message:
        `budget ${u.id}: ${usd(used)} of ${usd(u.limitUsd)} used (${usd(u.spent)} spent, ${usd(u.reserved)} reserved), ` +
        `${Math.round(fraction * 100)} % ≥ its ${Math.round(u.alertAt * 100)} % alert; mode ${u.mode}: ${atLimit}.`,
    };
    // Logged once, when raised; refreshed silently while it holds.
    if (await store.alerts.raise(alert, now)) ctx.log.warn({ alert }, `alert: ${alert.message}`);
  }
  for (const a of await store.alerts.list()) {
    if (a.code === 'budget' && a.budget && !live.has(a.budget)) await store.alerts.clear('budget', a.budget);
  }
}
