import { createHash, randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[(bytes[i % bytes.length] ?? 0) % 62];
  return out;
}

/** A random id like the API's: `prefix` + "01" + 22 base62 characters (24 in all). */
export function randomId(prefix: string): string {
  return `${prefix}01${base62(randomBytes(22), 22)}`;
}

/** A deterministic id derived from `seed`: `prefix` + "01" + 22 base62 characters. */
export function deterministicId(prefix: string, seed: string): string {
  return `${prefix}01${base62(createHash('sha1').update(seed).digest(), 22)}`;
}

/** Hex SHA-1 of a string. */
export function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

/** 32-bit FNV-1a hash of a string with a murmur3 finalizer, so all bits are well mixed (for shuffles and rates). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32 PRNG seeded with a 32-bit integer. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON with object keys sorted, so equal values give equal strings whatever the key order. */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}

/** RFC 3339 UTC with microseconds, e.g. `2024-09-24T18:37:24.100435Z`, from integer microseconds. */
export function rfc3339(us: number): string {
  const ms = Math.floor(us / 1000);
  const micro = us - ms * 1000;
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micro).padStart(3, '0')}Z`;
}

/** True for a plain (non-array, non-null) object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
