/**
 * A queued request record as the producer writes it (the store's `EnqueueItem`), for tests and
 * benchmarks that write the store directly. `over` sets what the caller depends on (feature, group,
 * params, …); the rest are plain defaults.
 */
export function queuedItem<O extends object = Record<never, never>>(cid: string, over?: O) {
  return {
    cid,
    feature: 'digest',
    model: 'claude-haiku-4-5',
    params: '{}',
    phash: `h-${cid}`,
    meta: '',
    deadline: null as number | null,
    partition: 'default',
    group: 'g1',
    bytes: 100,
    realtimeAllowed: false,
    state: 'queued' as 'queued' | 'realtime',
    ...over,
  };
}

/**
 * A request as a service enqueues it (the producer's `EnqueueRequest`): feature `classify`, a small
 * Messages call about `key`. `over` sets what the test depends on (partition, deadline, …).
 */
export function classifyRequest<O extends object = Record<never, never>>(key: string, over?: O) {
  return {
    feature: 'classify',
    key,
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 8,
      messages: [{ role: 'user' as const, content: `doc ${key}` }],
    },
    ...over,
  };
}

/** What {@link claimInto} needs of a `Store` (structural: this package does not depend on the store). */
interface Claims {
  submissions: {
    open(s: {
      id: string;
      partition: string;
      reason: string;
      owner: string;
      leaseMs: number;
      now?: number;
    }): Promise<unknown>;
    claim(group: string, subId: string, maxCount: number, maxBytes: number, now?: number): Promise<unknown>;
  };
}

/**
 * Claims up to `max` ready requests of `group` into a new submission `sub` (a manual flush's, unless
 * `reason` says otherwise): how a test puts requests into the `claimed` state without a batcher.
 */
export async function claimInto(
  store: Claims,
  group: string,
  {
    sub = 's1',
    max = 10,
    now,
    reason = 'manual',
  }: { sub?: string; max?: number; now?: number; reason?: string } = {},
): Promise<void> {
  await store.submissions.open({
    id: sub,
    partition: 'default',
    reason,
    owner: 'test',
    leaseMs: 60_000,
    now,
  });
  await store.submissions.claim(group, sub, max, 1e9, now);
}
