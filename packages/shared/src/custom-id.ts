import { sha256Hex } from './json.js';

/** The API's rule for custom_id. */
export const CUSTOM_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

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
  const slug = feature.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 24) || 'req';
  return `${slug}_${sha256Hex(`${feature}\n${key}`).slice(0, 32)}`;
}
