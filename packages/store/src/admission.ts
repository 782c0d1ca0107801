import type { StoreCore } from './core.js';

/** Requests Nightshift has in the API's processing queue (in-flight.lua). */
export interface InFlight {
  /**
   * Requests of batches not yet seen ended, plus those of open submissions whose create may have
   * gone through ('creating') or is next ('claiming').
   */
  requests: number;
  /** Batches in flight not yet seen ended. */
  batches: number;
  /** Open submissions in state 'creating' counted in `requests`. */
  creating: number;
  /** Open submissions in state 'claiming' counted in `requests` (a flush claiming, or one that lost its lock mid-claim). */
  claiming: number;
}

/** What the last flush found about admission, for the board (hash `admission`). */
export interface AdmissionRecord {
  /** The batcher's cap on requests in flight at the API (0: no cap). */
  cap: number;
  /** Requests in flight when the flush decided. */
  inFlight: number;
  /** Requests ready to go that the flush held back for want of room. */
  held: number;
  /** When (ms). */
  at: number;
  /** The batcher process that flushed. */
  instance: string;
  /**
   * The partition that took the last chunk of a short room (the batcher's rotation starts after
   * it); kept from earlier flushes when a record leaves it out.
   */
  turn?: string;
}

/**
 * Admission at the batcher: how many requests are at the API now, and what the last flush made of
 * the cap. Every batcher of a prefix shares the count, so the cap holds across replicas.
 */
export class Admission {
  constructor(private readonly core: StoreCore) {}

  /** Requests (and batches) in the API's processing queue now, as far as the store knows. */
  async inFlight(): Promise<InFlight> {
    const [requests, batches, creating, claiming] = (await this.core.script('nsInFlight')) as number[];
    return {
      requests: Number(requests),
      batches: Number(batches),
      creating: Number(creating),
      claiming: Number(claiming),
    };
  }

  /** Records what a flush found (the board shows it beside the live count). */
  async record(r: AdmissionRecord): Promise<void> {
    const { turn, ...rest } = r;
    await this.core.redis.hset(this.core.keys.admission, turn === undefined ? rest : { ...rest, turn });
  }

  /** The last flush's record, or null before the first. */
  async last(): Promise<AdmissionRecord | null> {
    const h = await this.core.redis.hgetall(this.core.keys.admission);
    if (!h.at) return null;
    return {
      cap: Number(h.cap ?? 0),
      inFlight: Number(h.inFlight ?? 0),
      held: Number(h.held ?? 0),
      at: Number(h.at),
      instance: h.instance ?? '',
      ...(h.turn ? { turn: h.turn } : {}),
    };
  }
}
