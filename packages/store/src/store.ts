import { Admission } from './admission.js';
import { Backoff } from './backoff.js';
import { Batches } from './batches.js';
import { Budgets } from './budgets.js';
import type { RedisClient } from './connection.js';
import { bindCore, type StoreCore } from './core.js';
import { Drains } from './drain.js';
import { FlushLock } from './flush-lock.js';
import { storeKeys } from './keys.js';
import { Layout } from './layout.js';
import { Ledger, Stats } from './ledger.js';
import { Alerts, BoardKeys, Circuit, FlushLog, Heartbeats } from './ops.js';
import { Outcomes } from './outcomes.js';
import { Pending } from './pending.js';
import { Realtime } from './realtime.js';
import { Records } from './records.js';
import { Retention } from './retention.js';
import { scripts } from './scripts.js';
import { Submissions } from './submissions.js';

/**
 * The request store, one module per concern of the vocabulary (ARCHITECTURE.md "Glossary"):
 * `records`, `pending`, `submissions`, `batches`, `outcomes`, `realtime`, `ledger` and `stats`,
 * `drains`, `retention`, and the small operational keys (`heartbeats`, `alerts`, `circuit`,
 * `flushLog`, `backoff`, `admission`, `budgets`, `flushLock()`, `board`). Every multi-key change is one Lua script (see
 * scripts/), so each transition is atomic. The connection and the key builder are private: a
 * `Store` is the only door to our keys.
 */
export class Store {
  readonly records: Records;
  readonly pending: Pending;
  readonly submissions: Submissions;
  readonly batches: Batches;
  readonly outcomes: Outcomes;
  readonly realtime: Realtime;
  readonly ledger: Ledger;
  readonly stats: Stats;
  readonly drains: Drains;
  readonly retention: Retention;
  readonly heartbeats: Heartbeats;
  readonly alerts: Alerts;
  readonly circuit: Circuit;
  readonly flushLog: FlushLog;
  readonly backoff: Backoff;
  readonly admission: Admission;
  readonly budgets: Budgets;
  readonly board: BoardKeys;
  readonly layout: Layout;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    const keys = storeKeys(prefix);
    const run = scripts(redis);
    // Every script's first key is the stats hash: a Cluster client routes the call by it.
    const core: StoreCore = {
      redis,
      keys,
      prefix,
      // Before this process's first script, the layout is checked once (layout.ts): no script
      // runs on data written in a layout this code would misread.
      script: async (name, ...args) => {
        await this.layout.check();
        return run[name](keys.stats, keys.base, ...args);
      },
    };
    bindCore(this, core);
    this.records = new Records(core, this);
    this.pending = new Pending(core);
    this.submissions = new Submissions(core);
    this.batches = new Batches(core, this);
    this.outcomes = new Outcomes(core);
    this.realtime = new Realtime(core);
    this.ledger = new Ledger(core);
    this.stats = new Stats(core);
    this.drains = new Drains(core, this);
    this.retention = new Retention(core, this);
    this.heartbeats = new Heartbeats(core);
    this.alerts = new Alerts(core);
    this.circuit = new Circuit(core);
    this.flushLog = new FlushLog(core);
    this.backoff = new Backoff(core);
    this.admission = new Admission(core);
    this.budgets = new Budgets(core);
    this.board = new BoardKeys(core);
    this.layout = new Layout(core, this);
  }

  /** A flush lock with this lease (not taken yet: call `acquire`). */
  flushLock(leaseMs: number, onError: (err: Error) => void): FlushLock {
    return new FlushLock(this, leaseMs, onError);
  }
}
