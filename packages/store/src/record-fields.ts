import type { RequestRecord } from '@nightshift/shared';

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
  drainEpoch: 'ep',
  notify: 'ntf',
} as const satisfies Record<keyof RequestRecord, string>;

const READABLE = Object.entries(HASH_FIELD) as [keyof RequestRecord, string][];

/** A whole record hash (HGETALL) under the readable names; fields the hash lacks read as ''. */
export function fromHash(h: Record<string, string>): RequestRecord {
  const rec = {} as Record<string, string>;
  for (const [name, field] of READABLE) {
    const v = h[field];
    if (v !== undefined) rec[name] = v;
    else if (name !== 'reason') rec[name] = '';
  }
  return rec as unknown as RequestRecord;
}

/** The hash fields of readable field names; an unknown name is a caller's bug, refused at once. */
export function hashFieldsOf(fields: readonly (keyof RequestRecord)[]): string[] {
  return fields.map((f) => {
    const field = HASH_FIELD[f];
    if (!field) throw new TypeError(`unknown record field "${String(f)}"`);
    return field;
  });
}
