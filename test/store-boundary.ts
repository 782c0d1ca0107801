/**
 * The store's edge: no package but @nightshift/store sends a command to our Redis keys. Read as
 * text, so that a new raw call anywhere in a role's source fails `pnpm test` (see
 * store-boundary.test.ts). A line that only looks like a command carries the marker
 * `// store-boundary: not a command`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const MARKER = 'store-boundary: not a command';

/** Redis commands (as ioredis methods) that read or write a key. */
const KEYED = [
  'append',
  'blpop',
  'brpop',
  'copy',
  'decr',
  'decrby',
  'del',
  'dump',
  'eval',
  'evalsha',
  'evalRo',
  'exists',
  'expire',
  'expireat',
  'fcall',
  'get',
  'getdel',
  'getex',
  'getset',
  'hdel',
  'hexists',
  'hget',
  'hgetall',
  'hincrby',
  'hincrbyfloat',
  'hkeys',
  'hlen',
  'hmget',
  'hmset',
  'hscan',
  'hset',
  'hsetnx',
  'hvals',
  'incr',
  'incrby',
  'keys',
  'lindex',
  'linsert',
  'llen',
  'lmove',
  'lpop',
  'lpush',
  'lrange',
  'lrem',
  'lset',
  'ltrim',
  'mget',
  'mset',
  'multi',
  'persist',
  'pexpire',
  'pipeline',
  'psetex',
  'pttl',
  'rename',
  'restore',
  'rpop',
  'rpush',
  'sadd',
  'scan',
  'scard',
  'set',
  'setex',
  'setnx',
  'sismember',
  'smembers',
  'smismember',
  'spop',
  'srem',
  'sscan',
  'ttl',
  'type',
  'unlink',
  'xack',
  'xadd',
  'xautoclaim',
  'xclaim',
  'xdel',
  'xgroup',
  'xinfo',
  'xlen',
  'xrange',
  'xread',
  'xreadgroup',
  'xtrim',
  'zadd',
  'zcard',
  'zcount',
  'zincrby',
  'zrange',
  'zrangebyscore',
  'zrank',
  'zrem',
  'zremrangebyscore',
  'zrevrange',
  'zscan',
  'zscore',
];

/** A keyed command called on something named like a Redis connection. */
const RAW_CALL = new RegExp(
  `\\b(?:\\w*(?:redis|Redis|conn|Conn|connection|client|Client|pipe|multi))(?:\\(\\))?\\s*\\.\\s*(?:${KEYED.join('|')})\\s*\\(`,
);
/** A chained call continued on the next line: `redis\n  .multi()`. */
const RECEIVER_AT_END = /\b\w*(?:redis|Redis|conn|Conn|connection|client|Client)\s*$/;
const CHAINED_CALL = new RegExp(`^\\s*\\.\\s*(?:${KEYED.join('|')})\\s*\\(`);

/** The store's key space, its key builder, and its raw accessors. */
const FORBIDDEN: [RegExp, string][] = [
  [/\{req\}/, 'names a key of the store ({req})'],
  [/@nightshift\/store\/testing/, 'imports the raw store accessor (tests only)'],
  [/\b(?:storeKeys|rawStore|coreOf)\s*\(/, "builds or reaches the store's keys"],
  [RAW_CALL, 'sends a Redis command itself: add a method to the store instead'],
];

export interface Finding {
  file: string;
  line: number;
  text: string;
  why: string;
}

/** Comments and string contents that cannot be code; kept simple: `//` to the end of a line. */
const withoutComment = (line: string) => line.replace(/(^|[^:'"`])\/\/.*$/, '$1');

/** What in one file's text crosses the store's edge. */
export function scanSource(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  let inBlock = false;
  let previous = '';
  text.split('\n').forEach((raw, i) => {
    if (raw.includes(MARKER)) return;
    let line = raw;
    if (inBlock) {
      const end = line.indexOf('*/');
      if (end < 0) return;
      line = line.slice(end + 2);
      inBlock = false;
    }
    line = line.replace(/\/\*.*?\*\//g, '');
    const open = line.indexOf('/*');
    if (open >= 0) {
      line = line.slice(0, open);
      inBlock = true;
    }
    line = withoutComment(line);
    for (const [re, why] of FORBIDDEN) {
      if (re.test(line)) out.push({ file, line: i + 1, text: raw.trim(), why });
    }
    if (CHAINED_CALL.test(line) && RECEIVER_AT_END.test(previous)) {
      out.push({ file, line: i + 1, text: `${previous.trim()} ${raw.trim()}`, why: FORBIDDEN[3]![1] });
    }
    if (line.trim()) previous = line;
  });
  return out;
}

const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (SOURCE.test(name)) yield path;
  }
}

/** Every finding in the role packages' sources (everything under packages/<pkg>/src but the store's). */
export function scanRepo(root: string): Finding[] {
  const out: Finding[] = [];
  const packages = join(root, 'packages');
  for (const pkg of readdirSync(packages)) {
    if (pkg === 'store') continue;
    const src = join(packages, pkg, 'src');
    try {
      statSync(src);
    } catch {
      continue;
    }
    for (const f of files(src)) out.push(...scanSource(relative(root, f), readFileSync(f, 'utf8')));
  }
  return out;
}
