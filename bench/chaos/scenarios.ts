import type { ApiFaultPlan, Trigger } from './faults.js';
import type { Scenario } from './scenario.js';

const S = 1000;

/**
 * One of every API fault, each triggered by the run's progress (`stage` 0..1 moves the triggers
 * along the run so that several rounds hit different moments).
 */
export function apiFaults(stage = 0): ApiFaultPlan[] {
  const e = (x: number): Trigger => ({ enqueued: Math.min(1, x + stage) });
  const f = (x: number): Trigger => ({ final: Math.min(0.9, x + stage) });
  return [
    {
      when: { ...e(0.1), batches: 1 },
      label: '429 storm on create (retry-after 1 s)',
      fault: { endpoint: 'create', kind: 'status', status: 429, retryAfterSec: 1, times: 4 },
    },
    {
      when: e(0.2),
      label: 'create-then-fail 500 (duplicate-batch hazard)',
      fault: { endpoint: 'create', kind: 'create-then-fail', status: 500 },
    },
    {
      when: e(0.25),
      label: '529 overloaded on retrieve',
      fault: { endpoint: 'retrieve', kind: 'status', status: 529, times: 4 },
    },
    {
      when: e(0.3),
      label: 'transient 404 after create (1.5 s)',
      fault: { endpoint: 'retrieve', kind: 'not-found-after-create', forMs: 1500 },
      removeAfterMs: 8 * S,
    },
    { when: e(0.4), label: 'batches canceled by an operator', cancel: { count: 2 } },
    { when: e(0.5), label: 'batches expire (held, clock + 24 h)', expire: { windowMs: 10 * S } },
    {
      when: e(0.6),
      label: 'slow create past the client timeout',
      fault: { endpoint: 'create', kind: 'delay', ms: 3500 },
    },
    {
      when: e(0.7),
      label: 'create-then-fail 529 (duplicate-batch hazard)',
      fault: { endpoint: 'create', kind: 'create-then-fail', status: 529 },
    },
    {
      when: e(0.8),
      label: '503 on list',
      fault: { endpoint: 'list', kind: 'status', status: 503, times: 2 },
    },
    {
      when: { ...f(0.05), ended: 2 },
      label: 'results stream cut mid-way',
      fault: { endpoint: 'results', kind: 'drop-stream', afterLines: 30, times: 2 },
    },
    {
      when: f(0.3),
      label: '500 on results',
      fault: { endpoint: 'results', kind: 'status', status: 500, times: 2 },
    },
    {
      when: f(0.5),
      label: '529 storm on retrieve and results',
      fault: { endpoint: 'results', kind: 'status', status: 529, times: 3 },
    },
  ];
}

/** The CI version: everything at once, small, a few minutes on 2 cores. */
export const QUICK: Scenario = {
  name: 'quick',
  description:
    '3 batchers + 3 collectors killed -9 at random and at the risky moments, one Redis kill -9 (appendfsync always) during enqueue, flush and collection, one of each API fault.',
  requests: 1500,
  batchers: 3,
  collectors: 3,
  entry: 'fixture',
  fsync: 'always',
  enqueueMs: 20 * S,
  maxChaosMs: 150 * S,
  kills: { roles: ['batcher', 'collector'], everyMs: [2000, 4000], downMs: [200, 1000], targeted: 0.3 },
  redis: [
    { when: { enqueued: 0.5, batches: 3, ended: 1 }, kind: 'crash', during: 'enqueue, flush and collection' },
  ],
  api: apiFaults(),
  poisonRate: 0.01,
  transientRate: 0.03,
  drainTimeoutMs: 120 * S,
  seed: 42,
};
