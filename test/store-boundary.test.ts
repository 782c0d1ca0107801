import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MARKER, scanRepo, scanSource } from './store-boundary.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the store is the only door to our Redis keys', () => {
  it('no role package sends a command to a store key, names {req} or reaches the raw store', () => {
    const found = scanRepo(root).map((f) => `${f.file}:${f.line} ${f.why}: ${f.text}`);
    expect(found).toEqual([]);
  });

  // The guard must fail on what it exists to catch (the shapes the raw calls of before had).
  it.each([
    ['a command on the store connection', 'const h = await store.redis.hgetall(store.keys.backoff);'],
    ['a command on a connection', "const ids = await redis.zrangebyscore(key, '-inf', now);"],
    ['a pipeline', 'const pipe = ctx.store.redis.pipeline();'],
    ['a MULTI continued on the next line', 'await redis\n  .multi()\n  .srem(k, id)\n  .exec();'],
    ['a key of the store', "const base = prefix + ':{req}';"],
    ['the key builder', 'loginThrottle(conn, storeKeys(prefix).boardLogin);'],
    ['the raw accessor', "import { rawStore } from '@nightshift/store/testing';"],
  ])('catches %s', (_what, code) => {
    expect(scanSource('planted.ts', code)).not.toEqual([]);
  });

  it.each([
    ['a Map read', "const v = cache.get('a');"],
    ['a comment', '// redis.hget(key) is what the store does'],
    ['a block comment', '/* redis.hget(key) */'],
    ['a connection-level command', 'await redis.quit();'],
    ['a marked line', `await client.set(k, v); // ${MARKER}`],
  ])('lets %s through', (_what, code) => {
    expect(scanSource('planted.ts', code)).toEqual([]);
  });
});
