/** Small text helpers for human output; `--json` bypasses all of them but {@link escapeControl}. */

/**
 * C0 and C1 control characters (but newline and tab), DEL, and the Unicode line separators and
 * bidirectional overrides: what lets a stored value move the cursor, recolour or rewrite a
 * terminal (`ESC [2J`), or reorder what is read.
 */
function isControl(code: number): boolean {
  if (code === 0x0a || code === 0x09) return false;
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * A line fit for a terminal: every control character as `\uXXXX`. The same escape JSON uses, so
 * `--json` output stays valid JSON with the same meaning.
 */
export function escapeControl(line: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (!isControl(code)) continue;
    out += `${line.slice(from, i)}\\u${code.toString(16).padStart(4, '0')}`;
    from = i + 1;
  }
  return from === 0 ? line : out + line.slice(from);
}

/**
 * Prints a list: under `--json` the rows as they are, else a table of what `view` shows of each
 * (dates as ages, lists joined).
 */
export function printRows<T>(
  ctx: { json: boolean; out: (line: string) => void },
  rows: T[],
  view: (row: T) => Record<string, unknown>,
): void {
  ctx.out(ctx.json ? JSON.stringify(rows, null, 2) : table(rows.map(view)));
}

export function table(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) return 'never';
  return `${duration(now - ms)} ago`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

export const usd = (n: number) => (Math.abs(n) >= 100 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`);
