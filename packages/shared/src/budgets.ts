/**
 * Spend budgets (ARCHITECTURE.md "Budgets"): a limit in dollars at batch price per UTC day or month,
 * for one feature, one partition, both, or everything. The store keeps them and the reservations
 * against them; this module holds their shape, their validation (file and CLI) and their windows.
 */
import { z } from 'zod';
import { ConfigError, NightshiftError } from './errors.js';

/** The window a budget counts in: the UTC day or the UTC month. */
export type BudgetPeriod = 'day' | 'month';

/**
 * What happens at the limit: `hold` keeps requests queued until the window resets or the limit is
 * raised (the batcher claims only what fits); `refuse` makes enqueue throw `BudgetExceededError`.
 */
export type BudgetMode = 'hold' | 'refuse';

/** One budget as the operator sets it. */
export interface Budget {
  /** Its name, `[A-Za-z0-9_-]`, 1–64; with the period it is the budget's id (`classify-docs/day`). */
  name: string;
  period: BudgetPeriod;
  /** The limit in US dollars at batch price. */
  limitUsd: number;
  /** Only requests of this feature count ('' or absent: any feature). */
  feature?: string;
  /** Only requests of this partition count ('' or absent: any partition). */
  partition?: string;
  /** @defaultValue `'hold'` */
  mode: BudgetMode;
  /** The fraction of the limit (reserved + spent) at which the `budget` alert is raised. @defaultValue 0.8 */
  alertAt: number;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The zod schema of one budget (the budgets file, the CLI). */
export const budgetSchema = z.strictObject({
  name: z.string().regex(NAME, 'a budget name is 1–64 of A-Z a-z 0-9 _ -'),
  period: z.enum(['day', 'month']),
  limitUsd: z.number().finite().nonnegative(),
  feature: z.string().max(200).optional(),
  partition: z.string().max(200).optional(),
  mode: z.enum(['hold', 'refuse']).default('hold'),
  alertAt: z.number().gt(0).max(1).default(0.8),
});

/** The budgets file (NIGHTSHIFT_BUDGETS_FILE): `{ "budgets": [ … ] }`. */
const budgetsFileSchema = z.strictObject({ budgets: z.array(budgetSchema) });

/** A budget's id: its name and period (`classify-docs/day`). */
export const budgetId = (b: Pick<Budget, 'name' | 'period'>): string => `${b.name}/${b.period}`;

/** Parses and validates a budgets file's text; throws ConfigError naming the field. */
export function parseBudgetsFile(text: string, source = 'NIGHTSHIFT_BUDGETS_FILE'): Budget[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not JSON (${(err as Error).message})`);
  }
  const parsed = budgetsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const list = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`${source}: ${list.join('; ')}`);
  }
  const ids = new Set<string>();
  for (const b of parsed.data.budgets) {
    if (ids.has(budgetId(b))) throw new ConfigError(`${source}: budget ${budgetId(b)} is given twice`);
    ids.add(budgetId(b));
  }
  return parsed.data.budgets;
}

/** `50/day`, `$1200/month`, `0.5/day` → limit and period (the CLI's form). */
export function parseBudgetAmount(text: string): { limitUsd: number; period: BudgetPeriod } {
  const m = /^\$?(\d+(?:\.\d+)?)\/(day|month)$/.exec(text.trim());
  if (!m)
    throw new ConfigError(
      `budget amount ${JSON.stringify(text)}: write dollars/period, e.g. 50/day or 1200/month`,
    );
  return { limitUsd: Number(m[1]), period: m[2] as BudgetPeriod };
}

/** The window a budget counts in at `now`: `yyyy-mm-dd` (day) or `yyyy-mm` (month), UTC. */
export function budgetWindow(period: BudgetPeriod, now: number): string {
  const iso = new Date(now).toISOString();
  return period === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

/** When the window that holds `now` ends (ms): the next UTC midnight, or the first of next month. */
export function budgetWindowEnd(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  return period === 'day'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Whether a request of this feature and partition counts against the budget. */
export const budgetCovers = (b: Pick<Budget, 'feature' | 'partition'>, feature: string, partition: string) =>
  (!b.feature || b.feature === feature) && (!b.partition || b.partition === partition);

/**
 * Enqueue refused by a budget: a `refuse` budget that the requests' estimated cost would take past
 * its limit, or a `hold` budget that is full while a request's deadline comes before its window
 * resets. Nothing was enqueued. `budget` is the budget's id (`classify-docs/day`).
 */
export class BudgetExceededError extends NightshiftError {
  readonly budget: string;
  readonly customIds: string[];
  constructor(budget: string, customIds: string[], detail: string) {
    super('BUDGET_EXCEEDED', `budget ${budget}: ${detail} Nothing was enqueued.`);
    this.name = 'BudgetExceededError';
    this.budget = budget;
    this.customIds = customIds;
  }
}
