import { ValidationError } from './errors.js';
import { sha256Hex } from './json.js';

/** The API's rule for custom_id. */
export const CUSTOM_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The syntax of a model id: 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit. Every id
 * the API and the SDK's `Model` type name fits (`claude-haiku-4-5`, `claude-opus-4-5-20251101`,
 * `claude-mythos-preview`); a `|` (the ledger's field separator), white space, control characters
 * or a megabyte of text cannot reach the ledger, the metrics' labels or a terminal. Whether a model
 * exists, or is retired, is the API's (and the price table's) business, not this pattern's.
 */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Where a string stops being well-formed Unicode (a lone UTF-16 surrogate), or -1. Such a string
 * has no UTF-8 form: encoding replaces the surrogate with U+FFFD, so two keys that differ only
 * there would hash alike. Same answer as `String.prototype.isWellFormed`, plus the position.
 */
export function loneSurrogateAt(s: string): number {
  return /\p{Cs}/u.exec(s)?.index ?? -1;
}

/**
 * The documented rule that turns a stable source key into a custom_id:
 *
 *   custom_id = <feature slug, ≤ 24 chars> "_" <first 32 hex chars of sha256(feature "\n" key)>
 *
 * Same feature and key → same id, in every process and on every re-run. 128 bits of hash make a
 * collision practically impossible (≈ 1 in 10^19 at a billion keys). The feature is part of the
 * hash so that the same document classified and summarised are two different requests.
 */
export function deriveCustomId(feature: string, key: string): string {
  const at = loneSurrogateAt(key);
  if (at >= 0) throw new ValidationError([{ field: 'key', message: illFormedKey(at) }]);
  const slug = feature.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 24) || 'req';
  return `${slug}_${sha256Hex(`${feature}\n${key}`).slice(0, 32)}`;
}

/** The message for a key that is not well-formed Unicode. */
export function illFormedKey(at: number): string {
  return (
    `is not well-formed Unicode (a lone UTF-16 surrogate at index ${at}): it has no UTF-8 form, so it ` +
    'would derive the same custom_id as another key; pass a well-formed string (e.g. the id hex-encoded)'
  );
}
