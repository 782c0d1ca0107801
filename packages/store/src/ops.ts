import type { Alert, CircuitOpening, CircuitState, Heartbeat } from '@nightshift/shared';
import type { StoreCore } from './core.js';

/** The field of an alert in the `alerts` hash: `code`, `code:batchId`, `code:model` or `code:budget`. */
const alertField = (a: Pick<Alert, 'code' | 'batchId' | 'model' | 'budget'>) => {
  const subject = a.batchId || a.model || a.budget;
  return subject ? `${a.code}:${subject}` : a.code;
};

/** Liveness: one heartbeat per role process. */
export class Heartbeats {
  constructor(private readonly core: StoreCore) {}

  async beat(hb: Heartbeat) {
    await this.core.redis.hset(this.core.keys.heartbeats, `${hb.role}:${hb.instance}`, JSON.stringify(hb));
  }

  async list(): Promise<Heartbeat[]> {
    const h = await this.core.redis.hgetall(this.core.keys.heartbeats);
    return Object.values(h).map((v) => JSON.parse(v) as Heartbeat);
  }

  async remove(role: string, instance: string) {
    await this.core.redis.hdel(this.core.keys.heartbeats, `${role}:${instance}`);
  }
}

/** The alerts the board shows, one per code (and batch or model). */
export class Alerts {
  constructor(private readonly core: StoreCore) {}

  /**
   * Raises (or refreshes) an alert; the first raise time (`since`) is kept, `at` is this one. A
   * per-batch alert is keyed `code:batchId`, a model alert `code:model`. Returns whether it is new.
   */
  async raise(alert: Omit<Alert, 'since' | 'at'>, now = Date.now()): Promise<boolean> {
    const field = alertField(alert);
    const prev = await this.core.redis.hget(this.core.keys.alerts, field);
    const since = prev ? (JSON.parse(prev) as Alert).since : now;
    await this.core.redis.hset(this.core.keys.alerts, field, JSON.stringify({ ...alert, since, at: now }));
    return !prev;
  }

  /** Clears an alert; `subject` is its batch id or model, for alerts keyed by one. */
  async clear(code: Alert['code'], subject?: string) {
    await this.core.redis.hdel(this.core.keys.alerts, subject ? `${code}:${subject}` : code);
  }

  async list(): Promise<Alert[]> {
    const h = await this.core.redis.hgetall(this.core.keys.alerts);
    return Object.values(h)
      .map((v) => JSON.parse(v) as Alert)
      .sort((a, b) => a.since - b.since);
  }
}

/** The submission circuit breaker (open after billing or account errors; open-circuit.lua). */
export class Circuit {
  constructor(private readonly core: StoreCore) {}

  /** The submission circuit. A circuit opened by an earlier version (billing only) reads as billing. */
  async state(): Promise<CircuitState> {
    const h = await this.core.redis.hgetall(this.core.keys.circuit);
    if (h.state !== 'open') return { open: false };
    const kind = h.kind === 'account' ? 'account' : 'billing';
    return {
      open: true,
      kind,
      code: h.code || (kind === 'billing' ? 'billing_error' : 'unknown'),
      reason: h.reason ?? '',
      fix: h.fix ?? '',
      since: Number(h.since),
      until: Number(h.until),
      opens: Number(h.opens) || 1,
    };
  }

  /**
   * Opens the circuit (or records a refused probe) and raises its one alert, atomically (see
   * open-circuit.lua): a billing circuit's next probe waits `cooldownMs` doubled per refused probe,
   * at most `maxCooldownMs`; an account circuit's waits `cooldownMs`.
   */
  async open(
    o: CircuitOpening & { cooldownMs: number; maxCooldownMs: number },
    now = Date.now(),
  ): Promise<{ opens: number; until: number; opened: boolean }> {
    const what = o.kind === 'billing' ? 'billing / spend limit' : 'the API refuses the account';
    const message = `Submissions stopped (${what}: ${o.code}): ${o.reason.replace(/\.$/, '')}. Fix: ${o.fix} Requests stay queued.`;
    const [opens, until, opened] = (await this.core.script(
      'nsOpenCircuit',
      now,
      o.kind,
      o.code,
      o.reason,
      o.fix,
      o.cooldownMs,
      Math.max(o.cooldownMs, o.maxCooldownMs),
      message,
    )) as [number, string, number];
    return { opens: Number(opens), until: Number(until), opened: opened === 1 };
  }

  /** Closes the circuit and clears its alert; answers whether it was open. */
  async close(): Promise<boolean> {
    const [deleted] = (await this.core.redis
      .multi()
      .del(this.core.keys.circuit)
      .hdel(this.core.keys.alerts, 'circuit-open')
      .exec()) as [[Error | null, number]];
    return deleted?.[1] === 1;
  }
}

/** The latest flush records of the batcher, newest first, capped. */
export class FlushLog {
  constructor(private readonly core: StoreCore) {}

  async record(record: object) {
    await this.core.redis
      .multi()
      .lpush(this.core.keys.flushes, JSON.stringify(record))
      .ltrim(this.core.keys.flushes, 0, 199)
      .exec();
  }

  async recent(n = 20): Promise<Record<string, unknown>[]> {
    const list = await this.core.redis.lrange(this.core.keys.flushes, 0, n - 1);
    return list.map((s) => JSON.parse(s));
  }
}

/** What the board keeps in the store. */
export class BoardKeys {
  constructor(private readonly core: StoreCore) {}

  /**
   * The CSRF token every board process of this prefix shares: `candidate` is stored if none is
   * (`SET NX`), and the stored one is returned.
   */
  async csrfToken(candidate: string): Promise<string | null> {
    await this.core.redis.set(this.core.keys.boardCsrf, candidate, 'NX');
    return this.core.redis.get(this.core.keys.boardCsrf);
  }
}
