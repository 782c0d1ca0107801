import type { RequestState } from '@nightshift/shared';

/**
 * The per-item codes of the store's scripts, typed: each script's header lists its codes; here
 * each becomes one member of a union, parsed once where the module reads the reply. A code that
 * names the record's state (`dup:succeeded`) carries it as `state`.
 */

/** One code of a script's reply, with the request state it names where it names one. */
type Code = { code: string; state?: RequestState };
type Bare<R extends Code> = Exclude<R, { state: RequestState }>['code'];
type WithState<R extends Code> = Extract<R, { state: RequestState }>['code'];

const REQUEST_STATES: ReadonlySet<string> = new Set<RequestState>([
  'queued',
  'claimed',
  'realtime',
  'succeeded',
  'dead',
  'canceled',
]);

/**
 * A parser of one script's codes: a bare code (`ok`) or `<code>:<state>` (`dup:succeeded`). A code
 * the script does not answer throws: the client and the script are out of step.
 */
function codeParser<R extends Code>(
  script: string,
  bare: readonly Bare<R>[],
  withState: readonly WithState<R>[],
): (raw: string) => R {
  const bareCodes: ReadonlySet<string> = new Set(bare);
  const stateCodes: ReadonlySet<string> = new Set(withState);
  return (raw) => {
    if (bareCodes.has(raw)) return { code: raw } as R;
    const at = raw.indexOf(':');
    const code = raw.slice(0, at);
    const state = raw.slice(at + 1);
    if (at > 0 && stateCodes.has(code) && REQUEST_STATES.has(state)) return { code, state } as R;
    throw new Error(`${script}: unexpected reply code ${JSON.stringify(raw)}`);
  };
}

/** A code in the script's words (`ok`, `dup:succeeded`), for messages and logs. */
export function codeText(result: Code): string {
  return result.state === undefined ? result.code : `${result.code}:${result.state}`;
}

/** What enqueue.lua answers per item. */
export type EnqueueResult =
  /** Written. */
  | { code: 'new' }
  /** Written over a queued request (replace, other params) or a canceled one (replace). */
  | { code: 'replaced' }
  /** A record with the same params: nothing changed. */
  | { code: 'exists'; state: RequestState }
  /** A record with other params, not replaced: nothing changed. */
  | { code: 'conflict'; state: RequestState };

/** What apply.lua answers per item. */
export type ApplyResult =
  /** Applied. */
  | { code: 'ok' }
  /** No record of that custom_id. */
  | { code: 'unknown' }
  /** A success for a record already final: counted as a duplicate result, nothing else changed. */
  | { code: 'dup'; state: RequestState }
  /** A requeue, death or real-time move whose guard no longer holds the record: nothing changed. */
  | { code: 'stale'; state: RequestState };

/** What cancel.lua answers per custom_id. */
export type CancelResult =
  /** Canceled now. */
  | { code: 'ok' }
  | { code: 'unknown' }
  /** Canceled already: nothing changed. */
  | { code: 'canceled' }
  /** Claimed, real-time or final: nothing changed. */
  | { code: 'not-queued'; state: RequestState };

/** What retry-dead.lua answers per custom_id. */
export type RetryDeadResult =
  /** Queued again with a fresh attempt budget. */
  | { code: 'ok' }
  | { code: 'unknown' }
  /** Not dead: nothing changed. */
  | { code: 'not-dead'; state: RequestState };

/** What promote.lua answers per custom_id. */
export type PromoteResult =
  /** Ready now. */
  | { code: 'ok' }
  | { code: 'unknown' }
  /** Queued and ready already. */
  | { code: 'ready' }
  /** Not queued: nothing changed. */
  | { code: 'not-queued'; state: RequestState };

export const parseEnqueue = codeParser<EnqueueResult>(
  'enqueue.lua',
  ['new', 'replaced'],
  ['exists', 'conflict'],
);
export const parseApply = codeParser<ApplyResult>('apply.lua', ['ok', 'unknown'], ['dup', 'stale']);
export const parseCancel = codeParser<CancelResult>(
  'cancel.lua',
  ['ok', 'unknown', 'canceled'],
  ['not-queued'],
);
export const parseRetryDead = codeParser<RetryDeadResult>('retry-dead.lua', ['ok', 'unknown'], ['not-dead']);
export const parsePromote = codeParser<PromoteResult>(
  'promote.lua',
  ['ok', 'unknown', 'ready'],
  ['not-queued'],
);
