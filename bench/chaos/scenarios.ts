import type { ApiFaultPlan, KillPlan, Trigger } from './faults.js';
import type { Scenario } from './scenario.js';

const S = 1000;

/**
 * One of every API fault, each triggered by the run's progress (`stage` 0..1 moves the triggers
 * along the run so that several rounds hit different moments).
 */
function apiFaults(stage = 0): ApiFaultPlan[] {
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
      label: 'transient 404 after create (3 s)',
      fault: { endpoint: 'retrieve', kind: 'not-found-after-create', forMs: 3000 },
      removeAfterMs: 20 * S,
    },
    { when: { ...e(0.4), batches: 4 }, label: 'batches canceled by an operator', cancel: { count: 2 } },
    {
      when: { ...e(0.5), batches: 6 },
      label: 'batches expire (held, clock + 24 h)',
      expire: { windowMs: 20 * S },
    },
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

/** What every scenario runs unless it says otherwise: 3 + 3 fixture replicas, fsync always. */
const FLEET = {
  batchers: 3,
  collectors: 3,
  entry: 'fixture',
  fsync: 'always',
  poisonRate: 0.01,
  transientRate: 0.03,
} as const satisfies Partial<Scenario>;

/** Every role a kill plan can take down, the result workers included. */
const ALL_ROLES: KillPlan['roles'] = ['batcher', 'collector', 'results'];

/** The CI version: everything at once, small, a few minutes on 2 cores. */
export const QUICK: Scenario = {
  ...FLEET,
  name: 'quick',
  description:
    '3 batchers + 3 collectors + 2 result workers killed -9 at random and at the risky moments, one Redis kill -9 (appendfsync always) during enqueue, flush and collection, one of each API fault.',
  requests: 1500,
  resultWorkers: 2,
  enqueueMs: 20 * S,
  maxChaosMs: 150 * S,
  kills: {
    roles: ALL_ROLES,
    everyMs: [1500, 3000],
    downMs: [200, 1000],
    targeted: 0.3,
  },
  redis: [
    { when: { enqueued: 0.5, batches: 3, ended: 1 }, kind: 'crash', during: 'enqueue, flush and collection' },
  ],
  api: apiFaults(),
  drainTimeoutMs: 120 * S,
  seed: 42,
};

const ENQUEUE: Trigger = { enqueued: 0.25, batches: 1 };
const FLUSH: Trigger = { enqueued: 0.6, batches: 4 };
const COLLECT: Trigger = { enqueued: 1, final: 0.5 };

/** `pnpm chaos`: every scenario, longer and harder (about 15–20 minutes on 2 cores). */
export const LONG: Scenario[] = [
  {
    ...FLEET,
    name: 'process-kills',
    description:
      '3 batchers + 3 collectors + 2 result workers, kill -9 every 0.7–1.5 s at random and at the risky moments (a submission in `creating`, a results stream starting, a result job in hand), restarted after 0.2–1.5 s.',
    requests: 10000,
    resultWorkers: 2,
    enqueueMs: 90 * S,
    maxChaosMs: 300 * S,
    kills: {
      roles: ALL_ROLES,
      everyMs: [700, 1500],
      downMs: [200, 1500],
      targeted: 0.4,
      untilFinal: 0.97,
    },
    drainTimeoutMs: 180 * S,
    seed: 1,
  },
  {
    ...FLEET,
    name: 'redis-always',
    description:
      'Redis kill -9 and restart with appendfsync always during enqueue, flush and collection (3 crashes), with replicas killed now and then.',
    requests: 4000,
    enqueueMs: 40 * S,
    maxChaosMs: 240 * S,
    kills: { roles: ['batcher', 'collector'], everyMs: [5000, 9000], downMs: [200, 1000], untilFinal: 0.8 },
    redis: [
      { when: ENQUEUE, kind: 'crash', during: 'enqueue' },
      { when: FLUSH, kind: 'crash', during: 'flush' },
      { when: COLLECT, kind: 'crash', during: 'collection' },
    ],
    drainTimeoutMs: 180 * S,
    seed: 2,
  },
  {
    ...FLEET,
    name: 'redis-everysec',
    description:
      'appendfsync everysec: three simulated power losses (kill -9, then the AOF cut back by up to 1 s: what an OS crash loses) during enqueue, flush and collection, plus one plain kill -9.',
    requests: 4000,
    fsync: 'everysec',
    enqueueMs: 40 * S,
    maxChaosMs: 240 * S,
    redis: [
      { when: ENQUEUE, kind: 'power-loss', ms: 1000, during: 'enqueue' },
      { when: FLUSH, kind: 'power-loss', ms: 1000, during: 'flush' },
      { when: { ...FLUSH, enqueued: 0.9 }, kind: 'crash', during: 'flush (plain kill -9)' },
      { when: COLLECT, kind: 'power-loss', ms: 1000, during: 'collection' },
    ],
    drainTimeoutMs: 180 * S,
    seed: 3,
  },
  {
    ...FLEET,
    name: 'redis-unreachable',
    description:
      'The shipped bin.ts of each role (no test knobs): Redis frozen (SIGSTOP) for 4 s and 6 s and down for 5 s; every process must ride it out without a restart.',
    requests: 3000,
    entry: 'bin',
    enqueueMs: 30 * S,
    maxChaosMs: 240 * S,
    redis: [
      { when: ENQUEUE, kind: 'freeze', ms: 4000, during: 'enqueue' },
      { when: FLUSH, kind: 'outage', ms: 5000, during: 'flush' },
      { when: COLLECT, kind: 'freeze', ms: 6000, during: 'collection' },
    ],
    transientRate: 0,
    drainTimeoutMs: 240 * S,
    seed: 4,
  },
  {
    ...FLEET,
    name: 'api-faults',
    description:
      'Three rounds of every API fault: 429 storms with retry-after, 5xx/529, create-then-fail, slow create, transient 404 after create, cut result streams, operator cancels, expiry.',
    requests: 5000,
    enqueueMs: 60 * S,
    maxChaosMs: 300 * S,
    api: [...apiFaults(0), ...apiFaults(0.1), ...apiFaults(0.2)],
    transientRate: 0.05,
    drainTimeoutMs: 180 * S,
    seed: 5,
  },
  {
    ...FLEET,
    name: 'everything',
    description:
      'All at once: kill -9 of every role and of the result workers, a Redis kill -9 (always) and a 4 s freeze, two rounds of every API fault.',
    requests: 8000,
    resultWorkers: 2,
    enqueueMs: 60 * S,
    maxChaosMs: 300 * S,
    kills: {
      roles: ALL_ROLES,
      everyMs: [2000, 4000],
      downMs: [200, 1500],
      targeted: 0.3,
      untilFinal: 0.9,
    },
    redis: [
      { when: FLUSH, kind: 'crash', during: 'enqueue and flush' },
      { when: COLLECT, kind: 'freeze', ms: 4000, during: 'collection' },
    ],
    api: [...apiFaults(0), ...apiFaults(0.2)],
    drainTimeoutMs: 240 * S,
    seed: 6,
  },
];
