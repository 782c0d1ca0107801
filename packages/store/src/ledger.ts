import type { StoreCore } from './core.js';

export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export interface LedgerRow {
  mode: 'batch' | 'realtime';
  feature: string;
  model: string;
  day: string;
  results: number;
  tokens: { input: number; cacheWrite5m: number; cacheWrite1h: number; cacheRead: number; output: number };
  /** Nano-dollars. */
  costNano: number;
  listNano: number;
  /** Results the API ran US-only (1.1×), and the nano-dollars that added to costNano. */
  usResults: number;
  usPremiumNano: number;
}

/** The fields of a {@link LedgerRow} that are sums. */
type RowSum = 'results' | 'costNano' | 'listNano' | 'usResults' | 'usPremiumNano';

/** What the `<metric>` of a ledger field adds to in its row; a metric in neither map is ignored. */
const TOKEN_METRICS = new Map<string, keyof LedgerRow['tokens']>([
  ['in', 'input'],
  ['cw5', 'cacheWrite5m'],
  ['cw1h', 'cacheWrite1h'],
  ['cr', 'cacheRead'],
  ['out', 'output'],
]);
const ROW_METRICS = new Map<string, RowSum>([
  ['n', 'results'],
  ['cost', 'costNano'],
  ['list', 'listNano'],
  ['us', 'usResults'],
  ['usp', 'usPremiumNano'],
]);

/** The cost ledger: one hash per UTC day, `<mode>|<feature>|<model>|<metric>` → integer. */
export class Ledger {
  constructor(private readonly core: StoreCore) {}

  /** Ledger rows for the given UTC days (all days when omitted). */
  async rows(days?: string[]): Promise<LedgerRow[]> {
    const list = days ?? (await this.core.redis.smembers(this.core.keys.ledgerDays));
    const rows = new Map<string, LedgerRow>();
    const hashes = await Promise.all(list.map((d) => this.core.redis.hgetall(this.core.keys.ledger(d))));
    list.forEach((day, i) => {
      for (const [field, value] of Object.entries(hashes[i] ?? {})) {
        // `<mode>|<feature>|<model>|<metric>`. Models are validated (no `|`) since the producer
        // checks their syntax; a record of an earlier version may still carry one in its model.
        const parts = field.split('|');
        const [mode = '', feature = ''] = parts;
        const metric = parts[parts.length - 1] ?? '';
        const model = parts.slice(2, -1).join('|');
        const key = `${day}|${mode}|${feature}|${model}`;
        let row = rows.get(key);
        if (!row) {
          row = {
            mode: mode === 'r' ? 'realtime' : 'batch',
            feature,
            model,
            day,
            results: 0,
            tokens: { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 },
            costNano: 0,
            listNano: 0,
            usResults: 0,
            usPremiumNano: 0,
          };
          rows.set(key, row);
        }
        const v = Number(value);
        const token = TOKEN_METRICS.get(metric);
        if (token) row.tokens[token] += v;
        const sum = ROW_METRICS.get(metric);
        if (sum) row[sum] += v;
      }
    });
    return [...rows.values()];
  }
}

/** Counters (results by type, requeues, dead letters, duplicates, …). */
export class Stats {
  constructor(private readonly core: StoreCore) {}

  async all(): Promise<Record<string, number>> {
    const h = await this.core.redis.hgetall(this.core.keys.stats);
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  async bump(name: string, by = 1) {
    await this.core.redis.hincrby(this.core.keys.stats, name, by);
  }
}
