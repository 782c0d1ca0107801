import type { AttemptRecord, RequestRecord } from '@nightshift/shared';

/**
 * Where each field of a `RequestRecord` is kept in the record hash `rec:<custom_id>`. The names are
 * short because every record carries them (the hash stays a small listpack) and the Lua scripts use
 * them; role code sees only the readable names: the store maps them here, at its edge.
 */
const HASH_FIELD = {
  customId: 'cid',
  feature: 'feature',
  model: 'model',
  params: 'params',
  paramsHash: 'phash',
  metadata: 'meta',
  deadline: 'deadline',
  partition: 'partition',
  group: 'group',
  bytes: 'bytes',
  attempt: 'attempt',
  state: 'state',
  submission: 'sub',
  enqueuedAt: 'enq',
  readyAt: 'ready',
  updatedAt: 'upd',
  lastError: 'err',
  history: 'hist',
  realtimeAllowed: 'rt',
  deaths: 'deaths',
  reason: 'reason',
  completedAt: 'done',
  batchId: 'batch',
  delivery: 'dlv',
  costNano: 'cost',
  drainEpoch: 'ep',
  notify: 'ntf',
  estimate: 'est',
  reserved: 'bres',
  budgetWindows: 'bwin',
  webhookPending: 'whp',
} as const satisfies Record<keyof RequestRecord, string>;

const READABLE = Object.entries(HASH_FIELD) as [keyof RequestRecord, string][];

/**
 * A whole record hash (HGETALL) of `customId` under the readable names; fields the hash lacks read
 * as '' (a compacted record keeps only a few, see delivered.lua).
 */
export function fromHash(h: Record<string, string>, customId: string): RequestRecord {
  const rec = {} as Record<string, string>;
  for (const [name, field] of READABLE) {
    const v = h[field];
    if (v !== undefined) rec[name] = v;
    else if (name !== 'reason') rec[name] = '';
  }
  // A compacted record writes no attempt when it is the first.
  if (isCompacted({ state: h.state, customId: h.cid })) rec.attempt ||= '1';
  rec.customId ||= customId;
  return rec as unknown as RequestRecord;
}

/**
 * True for a record compacted once its result was delivered (delivered.lua): succeeded, and without
 * a stored `customId` (`cid`), the one field every other record has. Takes the fields as stored
 * (a peek's answer: '' for a field the hash lacks).
 */
export function isCompacted(rec: { state?: string; customId?: string }): boolean {
  return rec.state === 'succeeded' && !rec.customId;
}

/**
 * The same params hash: equal, or the first 24 hex digits (96 bits) a compacted record keeps
 * (delivered.lua). enqueue.lua compares alike.
 */
export function sameParams(stored: string, paramsHash: string): boolean {
  return stored === paramsHash || (stored.length === 24 && paramsHash.startsWith(stored));
}

/**
 * A record's attempts: its history, or for a compacted record the one attempt it keeps, the success
 * (its number, batch and time).
 */
export function attemptsOf(rec: RequestRecord, compacted: boolean): AttemptRecord[] {
  if (compacted) {
    return [
      {
        attempt: Number(rec.attempt) || 1,
        batchId: rec.batchId || null,
        outcome: 'succeeded',
        at: Number(rec.completedAt),
      },
    ];
  }
  try {
    return JSON.parse(rec.history || '[]') as AttemptRecord[];
  } catch {
    return []; // a record of nonsense still shows; its history reads as empty
  }
}

/** The hash fields of readable field names; an unknown name is a caller's bug, refused at once. */
export function hashFieldsOf(fields: readonly (keyof RequestRecord)[]): string[] {
  return fields.map((f) => {
    const field = HASH_FIELD[f];
    if (!field) throw new TypeError(`unknown record field "${String(f)}"`);
    return field;
  });
}
