/**
 * A role's `close()` (or `stop()`): runs `fn` the first time, and every later or concurrent call
 * answers the same promise, so closing twice is safe and waits for the one shutdown (pg-boss's
 * `stop`).
 */
export function closeOnce(fn: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= fn();
    return closing;
  };
}
