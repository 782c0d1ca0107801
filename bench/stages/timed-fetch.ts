/** A `fetch` for the SDK that adds up the time of one kind of call (headers received), for breakdowns. */
export function timedFetch(match: (method: string, url: string) => boolean) {
  const timing = { ms: 0, calls: 0 };
  const wrapped: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!match((init?.method ?? 'GET').toUpperCase(), url)) return fetch(input, init);
    const t0 = performance.now();
    try {
      return await fetch(input, init);
    } finally {
      timing.ms += performance.now() - t0;
      timing.calls++;
    }
  };
  return { fetch: wrapped, timing };
}

/** True for `POST /v1/messages/batches` (create). */
export const isCreate = (method: string, url: string) =>
  method === 'POST' && new URL(url).pathname === '/v1/messages/batches';
