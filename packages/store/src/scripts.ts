import { readFileSync } from 'node:fs';
import type { RedisClient } from './connection.js';

// The .lua files ship in src/scripts/ of the package; this module runs as src/scripts.ts (workspace)
// or dist/scripts.js (installed), both one level below the package root.
const dir = new URL('../src/scripts/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const pending = read('_pending.lua');

/**
 * Our Lua scripts; each declares one key so Cluster routes it to the slot it works in: the store's
 * stats key (`{req}`), or for `nsJobsWithin` a key of the queue it reads.
 */
const SCRIPTS = {
  nsEnqueue: pending + read('enqueue.lua'),
  nsClaim: pending + read('claim.lua'),
  nsRelease: pending + read('release.lua'),
  nsCommit: read('commit.lua'),
  nsApply: pending + read('apply.lua'),
  nsRetryDead: pending + read('retry-dead.lua'),
  nsPeek: read('peek.lua'),
  nsHeld: read('held.lua'),
  nsRedeliver: read('redeliver.lua'),
  nsPurge: read('purge.lua'),
  nsOpenCircuit: read('open-circuit.lua'),
  nsJobsWithin: read('jobs-within.lua'),
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
  return {
    nsEnqueue: (...a) => r.nsEnqueue(...a),
    nsClaim: (...a) => r.nsClaim(...a),
    nsRelease: (...a) => r.nsRelease(...a),
    nsCommit: (...a) => r.nsCommit(...a),
    nsApply: (...a) => r.nsApply(...a),
    nsRetryDead: (...a) => r.nsRetryDead(...a),
    nsPeek: (...a) => r.nsPeek(...a),
    nsHeld: (...a) => r.nsHeld(...a),
    nsRedeliver: (...a) => r.nsRedeliver(...a),
    nsPurge: (...a) => r.nsPurge(...a),
    nsOpenCircuit: (...a) => r.nsOpenCircuit(...a),
    nsJobsWithin: (...a) => r.nsJobsWithin(...a),
  };
}
