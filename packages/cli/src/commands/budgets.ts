import { type Budget, type BudgetMode, budgetId, parseBudgetAmount } from '@nightshift/shared';
import type { BudgetUsage } from '@nightshift/store';
import { type CliContext, UsageError } from '../context.js';
import { printRows } from '../format.js';

export interface BudgetFlags {
  feature?: string | undefined;
  partition?: string | undefined;
  all?: boolean | undefined;
  mode?: string | undefined;
  'alert-at'?: string | undefined;
}

const usd = (n: number) => `$${n.toFixed(2)}`;

/**
 * `nightshift budget set <name> <dollars>/<day|month> [--feature F] [--partition P] [--all]
 * [--mode hold|refuse] [--alert-at 0.8]`, `budget list`, `budget rm <name|name/period>`
 * (ARCHITECTURE.md "Budgets"). A new budget counts the feature named like it unless --feature,
 * --partition or --all says otherwise; setting an existing one keeps what the call does not give.
 */
export async function budget(ctx: CliContext, args: string[], flags: BudgetFlags): Promise<number> {
  const [action, name, amount] = args;
  switch (action) {
    case 'set': {
      if (!name || !amount)
        throw new UsageError('budget set needs a name and an amount, e.g. budget set classify-docs 50/day');
      const { limitUsd, period } = parseBudgetAmount(amount);
      const before = (await ctx.store.budgets.list()).find((b) => b.id === budgetId({ name, period }));
      const scoped = flags.feature !== undefined || flags.partition !== undefined || flags.all;
      const next: Budget = {
        name,
        period,
        limitUsd,
        mode: modeOf(flags.mode) ?? before?.mode ?? 'hold',
        alertAt: fractionOf(flags['alert-at']) ?? before?.alertAt ?? 0.8,
        ...(scoped
          ? {
              ...(flags.feature ? { feature: flags.feature } : {}),
              ...(flags.partition ? { partition: flags.partition } : {}),
            }
          : before
            ? {
                ...(before.feature ? { feature: before.feature } : {}),
                ...(before.partition ? { partition: before.partition } : {}),
              }
            : { feature: name }),
      };
      const stored = await ctx.store.budgets.set(next, 'cli');
      if (ctx.json) ctx.out(JSON.stringify(stored, null, 2));
      else
        ctx.out(
          `Budget ${stored.id}: ${usd(limitUsd)} a ${period} at batch price for ${scopeOf(stored)}, mode ${stored.mode}, alert at ${Math.round(stored.alertAt * 100)} %.`,
        );
      return 0;
    }
    case 'list': {
      printRows(ctx, await ctx.store.budgets.usage(), (u: BudgetUsage) => ({
        budget: u.id,
        scope: scopeOf(u),
        mode: u.mode,
        limit: usd(u.limitUsd),
        spent: usd(u.spent),
        reserved: usd(u.reserved),
        remaining: usd(u.remaining),
        queued: usd(u.queued),
        used: u.limitUsd > 0 ? `${Math.round(((u.spent + u.reserved) / u.limitUsd) * 100)} %` : '-',
        resets: new Date(u.resetsAt).toISOString().slice(0, 16).replace('T', ' '),
        source: u.source,
      }));
      return 0;
    }
    case 'rm': {
      if (!name) throw new UsageError('budget rm needs a name (all its periods) or name/period');
      const removed = await ctx.store.budgets.remove(name);
      if (ctx.json) ctx.out(JSON.stringify({ removed }));
      else ctx.out(removed.length ? `Removed ${removed.join(', ')}.` : `No budget named "${name}".`);
      return removed.length ? 0 : 1;
    }
    default:
      throw new UsageError(`budget needs set, list or rm, got "${action ?? ''}"`);
  }
}

function modeOf(v: string | undefined): BudgetMode | undefined {
  if (v === undefined) return undefined;
  if (v !== 'hold' && v !== 'refuse') throw new UsageError(`--mode must be hold or refuse, got "${v}"`);
  return v;
}

function fractionOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^(0(\.\d+)?|1(\.0+)?)$/.test(v) ? Number(v) : Number.NaN;
  if (!(n > 0 && n <= 1))
    throw new UsageError(`--alert-at must be a fraction in (0, 1], e.g. 0.8, got "${v}"`);
  return n;
}

function scopeOf(b: Pick<Budget, 'feature' | 'partition'>): string {
  const parts = [
    b.feature ? `feature ${b.feature}` : '',
    b.partition ? `partition ${b.partition}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'every request';
}
