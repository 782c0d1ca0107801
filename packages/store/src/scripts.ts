import { readFileSync } from 'node:fs';
import type { RedisClient } from './connection.js';

// The .lua files ship in src/scripts/ of the package; this module runs as src/scripts.ts (workspace)
// or dist/scripts.js (installed), both one level below the package root.
const dir = new URL('../src/scripts/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const pending = read('_pending.lua');
// Feature counts, drain marks and the event outbox, for scripts that open or finalize requests.
const final = read('_final.lua');
// Budget reservations: reserved at the claim, settled at a success, released otherwise.
const budget = read('_budget.lua');

/**
 * Our Lua scripts; each declares one key so Cluster routes it to the slot it works in: the store's
 * stats key (`{req}`), or for `nsJobsWithin` a key of the queue it reads.
 */
const SCRIPTS = {
  nsEnqueue: pending + final + read('enqueue.lua'),
  nsClaim: pending + budget + read('claim.lua'),
  nsRelease: pending + budget + read('release.lua'),
  nsCommit: read('commit.lua'),
  nsApply: pending + final + budget + read('apply.lua'),
  nsRetryDead: pending + final + read('retry-dead.lua'),
  nsPeek: read('peek.lua'),
  nsHeld: read('held.lua'),
  nsInFlight: read('in-flight.lua'),
  nsRedeliver: read('redeliver.lua'),
  nsDelivered: read('delivered.lua'),
  nsPurge: read('purge.lua'),
  nsOpenCircuit: read('open-circuit.lua'),
  nsJobsWithin: read('jobs-within.lua'),
  nsCancel: pending + final + read('cancel.lua'),
  nsDrainMark: final + read('drain-mark.lua'),
  nsCollected: final + read('collected.lua'),
  nsWebhookEndpoint: read('webhook-endpoint.lua'),
  // Bull Board's view of the requests (board-requests.ts).
  nsBoardCounts: read('board-counts.lua'),
  nsBoardPage: read('board-page.lua'),
  nsPromote: read('promote.lua'),
} as const;

export type ScriptName = keyof typeof SCRIPTS;

type Runner = (routeKey: string, ...args: (string | number)[]) => Promise<unknown>;

const defined = new WeakSet<object>();

/** Registers the scripts on a client (once) and returns typed runners. */
export function scripts(redis: RedisClient): Record<ScriptName, Runner> {
  if (!defined.has(redis)) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 1, lua });
    defined.add(redis);
  }
  const r = redis as unknown as Record<ScriptName, Runner>;
  return Object.fromEntries(
    (Object.keys(SCRIPTS) as ScriptName[]).map((name) => [
      name,
      (...a: Parameters<Runner>) => r[name]!(...a),
    ]),
  ) as Record<ScriptName, Runner>;
}
