import {
  BATCH_WINDOW_MS,
  type Budget,
  budgetCovers,
  budgetId,
  budgetSchema,
  budgetWindow,
  budgetWindowEnd,
  fromNano,
  toNano,
} from '@nightshift/shared';
import type { StoreCore } from './core.js';

/** A budget as stored: who set it (the budgets file or the CLI) beside its settings. */
export interface StoredBudget extends Budget {
  /** `budget/day` … : name and period. */
  id: string;
  /** 'file' (NIGHTSHIFT_BUDGETS_FILE, re-synced at each batcher start) or 'cli' (`nightshift budget set`). */
  source: 'file' | 'cli';
}

/** A budget and where its current window stands, in dollars at batch price. */
export interface BudgetUsage extends StoredBudget {
  /** The current window: `yyyy-mm-dd` or `yyyy-mm` (UTC). */
  window: string;
  /** When it resets (ms). */
  resetsAt: number;
  /** Estimates of the requests claimed and not yet final (submitted, in a batch). */
  reserved: number;
  /** Real cost of what succeeded in this window (settled). */
  spent: number;
  /** Estimates of the requests it covers that are queued, not claimed yet (in no window yet). */
  queued: number;
  /** limitUsd − reserved − spent, at least 0. */
  remaining: number;
}

/** One request as enqueue's budget check sees it. */
export interface BudgetCheckItem {
  cid: string;
  feature: string;
  partition: string;
  /** Estimate, nano-dollars. */
  est: number;
  deadline: number | null;
}

/** Why enqueue must refuse: the budget, the requests it refuses, a sentence. */
export interface BudgetRefusal {
  budget: string;
  customIds: string[];
  detail: string;
}

const usd = (nano: number) => `$${fromNano(nano).toFixed(2)}`;

/**
 * Spend budgets (ARCHITECTURE.md "Budgets"): their definitions (hash `budgets`) and usage per
 * window (hash `budget-use`). Reservations, settlement and release happen inside claim.lua,
 * apply.lua and release.lua (`_budget.lua`), atomically with the transition that causes them.
 */
export class Budgets {
  constructor(private readonly core: StoreCore) {}

  /** Creates or replaces a budget (validated: a bad field throws naming it). */
  async set(budget: Budget, source: StoredBudget['source'] = 'cli'): Promise<StoredBudget> {
    const b = budgetSchema.parse(budget);
    const stored: StoredBudget = { ...b, id: budgetId(b), source };
    await this.core.redis.hset(
      this.core.keys.budgets,
      stored.id,
      JSON.stringify({ ...stored, lim: toNano(b.limitUsd) }),
    );
    return stored;
  }

  /** Removes a budget by id (`name/period`) or every period of a name; returns the ids removed. */
  async remove(nameOrId: string): Promise<string[]> {
    const ids = (await this.list())
      .map((b) => b.id)
      .filter((id) => id === nameOrId || id.startsWith(`${nameOrId}/`));
    if (ids.length) await this.core.redis.hdel(this.core.keys.budgets, ...ids);
    return ids;
  }

  async list(): Promise<StoredBudget[]> {
    const h = await this.core.redis.hgetall(this.core.keys.budgets);
    return Object.values(h)
      .map((v) => {
        const { lim: _lim, ...b } = JSON.parse(v) as StoredBudget & { lim: number };
        return b;
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Makes the file's budgets the store's: sets each, removes file budgets the file no longer has. */
  async sync(budgets: Budget[]): Promise<void> {
    const keep = new Set(budgets.map(budgetId));
    for (const b of budgets) await this.set(b, 'file');
    const gone = (await this.list()).filter((b) => b.source === 'file' && !keep.has(b.id)).map((b) => b.id);
    if (gone.length) await this.core.redis.hdel(this.core.keys.budgets, ...gone);
  }

  /** Every budget with its current window's reserved, spent and remaining dollars. */
  async usage(now = Date.now()): Promise<BudgetUsage[]> {
    const list = await this.list();
    if (list.length === 0) return [];
    const [use, queued] = await Promise.all([this.useNano(list, now), this.queuedNano(list)]);
    return list.map((b, i) => {
      const [reserved, spent] = use[i]!;
      return {
        ...b,
        window: budgetWindow(b.period, now),
        resetsAt: budgetWindowEnd(b.period, now),
        reserved: fromNano(reserved),
        spent: fromNano(spent),
        queued: fromNano(queued[i]!),
        remaining: Math.max(0, fromNano(toNano(b.limitUsd) - reserved - spent)),
      };
    });
  }

  /**
   * What enqueue must refuse, or null (one read of the budgets; no budget, no further read). A
   * `refuse` budget refuses the whole call when its reserved + spent + the estimates of the queued
   * requests it covers + the call's estimates pass the limit. A `hold` budget that would pass it
   * refuses only the requests whose deadline falls before its window resets plus the 24 h a batch
   * may take: held, they could not make it. Advisory against concurrent enqueues (two calls may
   * both pass it): the claim enforces the limit either way.
   */
  async check(items: BudgetCheckItem[], now = Date.now()): Promise<BudgetRefusal | null> {
    if (items.length === 0) return null;
    const list = await this.list();
    if (list.length === 0) return null;
    const [use, queuedOf] = await Promise.all([this.useNano(list, now), this.queuedNano(list)]);
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!;
      const covered = items.filter((it) => budgetCovers(b, it.feature, it.partition));
      if (covered.length === 0) continue;
      const [reserved, spent] = use[i]!;
      const queued = queuedOf[i]!;
      const limit = toNano(b.limitUsd);
      const resetsAt = budgetWindowEnd(b.period, now);
      const late =
        b.mode === 'refuse'
          ? covered
          : covered.filter((it) => it.deadline !== null && it.deadline < resetsAt + BATCH_WINDOW_MS);
      const want = late.reduce((n, it) => n + it.est, 0);
      if (late.length === 0 || reserved + spent + queued + want <= limit) continue;
      const state = `${usd(reserved)} reserved + ${usd(spent)} spent + ${usd(queued)} queued of ${usd(limit)} this ${b.period}`;
      const detail =
        b.mode === 'refuse'
          ? `${covered.length} request(s) estimated at ${usd(want)} would pass it (${state}; mode refuse).`
          : `${late.length} request(s) with a deadline before ${new Date(resetsAt + BATCH_WINDOW_MS).toISOString()} ` +
            `(the window resets at ${new Date(resetsAt).toISOString()}, then up to 24 h in a batch) would be held past it (${state}; mode hold).`;
      return { budget: b.id, customIds: late.map((it) => it.cid), detail };
    }
    return null;
  }

  /** Nano-dollars of queued requests each budget covers (queued-est, kept by _pending.lua). */
  private async queuedNano(list: StoredBudget[]): Promise<number[]> {
    const h = await this.core.redis.hgetall(this.core.keys.queuedEst);
    const pairs = Object.entries(h).map(([k, v]) => {
      const at = k.lastIndexOf('|');
      return { feature: k.slice(0, at), partition: k.slice(at + 1), nano: Number(v) };
    });
    return list.map((b) =>
      pairs.reduce((n, p) => n + (budgetCovers(b, p.feature, p.partition) ? p.nano : 0), 0),
    );
  }

  /** [reserved, spent] nano-dollars of each budget's current window. */
  private async useNano(list: StoredBudget[], now: number): Promise<[number, number][]> {
    const fields = list.flatMap((b) => {
      const w = `${b.id}|${budgetWindow(b.period, now)}`;
      return [`${w}|r`, `${w}|s`];
    });
    const vals = await this.core.redis.hmget(this.core.keys.budgetUse, ...fields);
    return list.map((_, i) => [Number(vals[2 * i] ?? 0), Number(vals[2 * i + 1] ?? 0)]);
  }
}
