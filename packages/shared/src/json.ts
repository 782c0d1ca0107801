import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal values give equal strings (used for hashing). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/**
 * Parses JSON we stored (a record field, a job's data): `fallback` when the text is empty, missing
 * or not JSON. For stored values only; input from outside is validated instead.
 */
export function parseJson<T>(text: string | undefined | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Returns a description of the first value that JSON cannot carry faithfully, or null.
 * JSON.stringify silently drops or mangles these, so a request would be sent other than written.
 */
export function findNonJson(value: unknown, path = '', seen = new Set<object>()): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path || 'value'} is ${value} (not representable in JSON)`;
    case 'undefined':
      return `${path || 'value'} is undefined (omit the field instead)`;
    case 'bigint':
      return `${path || 'value'} is a BigInt (convert it to a number or string)`;
    case 'function':
    case 'symbol':
      return `${path || 'value'} is a ${typeof value} (not JSON)`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return `${path || 'value'} is a circular reference`;
  const proto = Object.getPrototypeOf(obj);
  if (!Array.isArray(obj) && proto !== Object.prototype && proto !== null) {
    const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    return `${path || 'value'} is a ${name} (use plain objects, arrays, strings, numbers, booleans or null)`;
  }
  seen.add(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const bad = findNonJson(obj[i], `${path}[${i}]`, seen);
      if (bad) return bad;
    }
  } else {
    for (const key of Object.keys(obj)) {
      const bad = findNonJson((obj as Record<string, unknown>)[key], path ? `${path}.${key}` : key, seen);
      if (bad) return bad;
    }
  }
  seen.delete(obj);
  return null;
}
