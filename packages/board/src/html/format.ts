/** Escapes text for HTML element content and attribute values. */
function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A tagged template whose interpolations are escaped unless wrapped in {@link raw}. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += toHtml(v) + (strings[i + 1] ?? '');
  });
  return new Raw(out);
}

/** Already-safe HTML. */
export class Raw {
  constructor(readonly value: string) {}
  toString() {
    return this.value;
  }
}

/** Marks a string as safe HTML (only for markup built here, never for data). */
export const raw = (s: string) => new Raw(s);

function toHtml(v: unknown): string {
  if (v instanceof Raw) return v.value;
  if (Array.isArray(v)) return v.map(toHtml).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

/** A duration people read at a glance: `45s`, `12m 5s`, `3h 20m`, `2d 4h`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m${s ? ` ${s}s` : ''}` : `${s}s`;
  return neg ? `-${text}` : text;
}

/** The largest time `Date` can hold, ms either side of the epoch (about ±275,000 years). */
const MAX_DATE_MS = 8.64e15;

/**
 * `2026-11-25 23:40:12 UTC`. A time `Date` cannot hold (a record of an older version may carry a
 * deadline of 1e20) reads "out of range" instead of throwing.
 */
export function utc(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (Math.abs(ms) > MAX_DATE_MS) return 'out of range';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Dollars with enough digits to be meaningful for small amounts. */
export function usd(n: number): string {
  const a = Math.abs(n);
  const digits = a === 0 ? 2 : a < 0.01 ? 4 : a < 100 ? 2 : 0;
  return `${n < 0 ? '-' : ''}$${a.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

/** A whole number with thousands separators. */
export const int = (n: number) => n.toLocaleString('en-US');

/** Bytes as `1.2 MB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
