/**
 * The limits and windows of Anthropic's Message Batches API that Nightshift builds on, in one place
 * (quotes and sources: shared/anthropic-batches-api.md). The emulator keeps its own copy on purpose:
 * it stands in for the API and depends on none of our packages.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A batch ends within 24 h of its creation (what is not processed by then expires). */
export const BATCH_WINDOW_MS = 24 * HOUR_MS;

/** Results stay downloadable for 29 days after a batch's creation (`created_at`), then are archived. */
export const RESULTS_ARCHIVE_MS = 29 * DAY_MS;

/** The most requests one Message Batch may hold. */
export const API_MAX_REQUESTS = 100_000;

/** The most bytes one create call's body may have (256 MB; over it the API answers 413). */
export const API_MAX_BYTES = 256_000_000;
