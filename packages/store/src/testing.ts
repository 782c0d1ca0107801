/**
 * `@nightshift/store/testing`: raw access to a store's Redis keys, for tests and the chaos suite
 * that check what is stored (or break it on purpose). Not for role code: outside this package a
 * `Store` is the only door to our keys (test/store-boundary.test.ts refuses an import from src/).
 */
import { coreOf } from './core.js';
import type { Store } from './store.js';

export { type StoreKeys, storeKeys } from './keys.js';

/** The connection and key builder behind a store. */
export function rawStore(store: Store) {
  const { redis, keys } = coreOf(store);
  return { redis, keys };
}
