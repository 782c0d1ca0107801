import type { RedisClient } from './connection.js';
import type { StoreKeys } from './keys.js';
import type { ScriptName } from './scripts.js';
import type { Store } from './store.js';

/**
 * What the store's own modules share: the connection, the key builder and the script runner.
 * Never exported from the package: outside @nightshift/store a `Store` is the only door to our keys.
 */
export interface StoreCore {
  readonly redis: RedisClient;
  readonly keys: StoreKeys;
  readonly prefix: string;
  /** Runs one of the store's Lua scripts (see scripts/). */
  script(name: ScriptName, ...args: (string | number)[]): Promise<unknown>;
}

const cores = new WeakMap<Store, StoreCore>();

export function bindCore(store: Store, core: StoreCore): void {
  cores.set(store, core);
}

/** The core of a store, for the store's own modules. */
export function coreOf(store: Store): StoreCore {
  const core = cores.get(store);
  if (!core) throw new TypeError('not a Store');
  return core;
}
