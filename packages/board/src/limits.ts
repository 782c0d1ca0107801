/** What the board shows at most: views cost what they show, whatever the jobs and records hold. */

/** Jobs per page of Bull Board's list, at most (its settings offer up to 300, its API any number). */
export const MAX_JOBS_PER_PAGE = 50;
/** A job's data larger than this is not read for a list page: it is shown when the job is opened. */
export const LIST_DATA_BYTES = 64 * 1024;

/** The longest string a board view shows in full; longer ones are cut with a note of their size. */
export const MAX_SHOWN_CHARS = 2000;
/** The most items of one array a board view shows. */
const MAX_SHOWN_ITEMS = 100;
const MAX_DEPTH = 8;

/** A string cut to `max` characters, with what was left out said at its end. */
export function truncateText(text: string, max = MAX_SHOWN_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}

/**
 * A copy of a JSON-like value with long strings cut and long arrays shortened, for what the board
 * sends to a browser: one job's data may hold a prompt of megabytes.
 */
export function truncateValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return truncateText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deeply to show]';
  if (Array.isArray(value)) {
    const shown = value.slice(0, MAX_SHOWN_ITEMS).map((v) => truncateValue(v, depth + 1));
    if (value.length > MAX_SHOWN_ITEMS) shown.push(`[${value.length - MAX_SHOWN_ITEMS} more items]`);
    return shown;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = truncateValue(v, depth + 1);
  return out;
}
