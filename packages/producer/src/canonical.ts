import { findNonJson } from '@nightshift/shared';

/** A value JSON cannot carry faithfully, with the path where it sits. */
export class NonJsonValue extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function pathOf(base: string, stack: (string | number)[]): string {
  let p = base;
  for (const k of stack) {
    if (typeof k === 'number') p += `[${k}]`;
    else p += /^[A-Za-z_$][\w$]*$/.test(k) ? `${p ? '.' : ''}${k}` : `[${JSON.stringify(k)}]`;
  }
  return p;
}

/**
 * Serializes a JSON value in one pass, checking it on the way: the producer's single serialization of
 * each request (its string is stored, sent, measured and hashed). With `sort`, object keys are sorted,
 * so equal values give equal strings (the params hash); without, key order is kept (metadata).
 *
 * Differences from `JSON.stringify`, on purpose:
 * - values JSON would drop or mangle (NaN, Infinity, BigInt, functions, symbols, class instances such as
 *   Date or Map, cycles, `undefined` inside arrays) throw {@link NonJsonValue} with their path;
 * - object properties whose value is `undefined` are omitted, as `JSON.stringify` and the SDK do (an
 *   optional field left `undefined` means "absent");
 * - own keys named `__proto__` or `constructor` are ordinary keys: they are written like any other
 *   and never touch a prototype (nothing here assigns into an object).
 */
export function toJson(value: unknown, sort: boolean, basePath = ''): string {
  return write(value, { sort, basePath, stack: [], open: [] });
}

interface Walk {
  sort: boolean;
  basePath: string;
  /** Keys / indexes from the root to the current value (paths in messages). */
  stack: (string | number)[];
  /** Ancestors of the current value (cycle check); an array beats a Set at JSON's usual small depths. */
  open: object[];
}

// Module-level functions, not closures: this runs for every request of a 100k-request enqueueMany.
function fail(w: Walk, v: unknown, why?: string): never {
  const path = pathOf(w.basePath, w.stack);
  throw new NonJsonValue(path, why ?? findNonJson(v, path) ?? `${path || 'value'} is not JSON`);
}

function write(v: unknown, w: Walk): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : fail(w, v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (v === null) return 'null';
      if (w.open.includes(v))
        return fail(w, v, `${pathOf(w.basePath, w.stack) || 'value'} is a circular reference`);
      return Array.isArray(v) ? writeArray(v, w) : writeObject(v, w);
    case 'undefined':
      return fail(
        w,
        v,
        `${pathOf(w.basePath, w.stack) || 'value'} is undefined (JSON would write null; use null or remove it)`,
      );
    default:
      return fail(w, v);
  }
}

function writeArray(v: unknown[], w: Walk): string {
  w.open.push(v);
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    w.stack.push(i);
    out += (i ? ',' : '') + write(v[i], w);
    w.stack.pop();
  }
  w.open.pop();
  return `${out}]`;
}

function writeObject(v: object, w: Walk): string {
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return fail(w, v);
  w.open.push(v);
  const keys = Object.keys(v);
  if (w.sort) keys.sort();
  let out = '{';
  for (const k of keys) {
    const child = (v as Record<string, unknown>)[k];
    if (child === undefined) continue;
    w.stack.push(k);
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${write(child, w)}`;
    w.stack.pop();
  }
  w.open.pop();
  return `${out}}`;
}
