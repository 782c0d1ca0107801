import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { type ApiError, req, sdk } from './helpers.js';

const requests = (tag: string, n: number) => Array.from({ length: n }, (_, i) => req(`${tag}-${i}`));

describe('the processing-queue cap', () => {
  it('refuses a create that would pass it with 429 rate_limit_error and retry-after, creating nothing', async () => {
    const emu = await startEmulator({
      quiet: true,
      processing: 'manual',
      processingQueue: { maxRequests: 10 },
    });
    try {
      const client = sdk(emu, { maxRetries: 0 });
      const first = await client.messages.batches.create({ requests: requests('a', 6) });
      expect(emu.inspect.inFlight()).toEqual({ requests: 6, batches: 1 });
      // Exactly at the cap is allowed.
      await client.messages.batches.create({ requests: requests('b', 4) });
      expect(emu.inspect.inFlight()).toEqual({ requests: 10, batches: 2 });

      const err = (await client.messages.batches
        .create({ requests: requests('c', 1) })
        .catch((e: unknown) => e)) as ApiError;
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      expect(err.status).toBe(429);
      expect(err.type).toBe('rate_limit_error');
      expect(err.headers?.get('retry-after')).toBe('60');
      expect(err.requestID).toMatch(/^req_/);
      expect(err.apiMessage).toContain('processing queue');
      expect(emu.inspect.batches()).toHaveLength(2);
      expect(emu.inspect.stats().processingQueue).toEqual({ peakRequests: 10, refusals: 1 });

      // Processed requests leave the queue even before their batch ends: room for 3 again.
      emu.control.process(first.id, 3);
      expect(emu.inspect.inFlight()).toEqual({ requests: 7, batches: 2 });
      await client.messages.batches.create({ requests: requests('d', 3) });
      // An ended batch frees all of its room.
      emu.control.complete(first.id);
      expect(emu.inspect.inFlight()).toEqual({ requests: 7, batches: 2 });
      expect(emu.inspect.stats().processingQueue.peakRequests).toBe(10);
    } finally {
      await emu.close();
    }
  });

  it('counts an instant batch until it is observed, and can be changed or lifted at run time', async () => {
    const emu = await startEmulator({ quiet: true, processingQueue: { maxRequests: 2, retryAfterSec: 5 } });
    try {
      const client = sdk(emu, { maxRetries: 0 });
      const b = await client.messages.batches.create({ requests: requests('a', 2) });
      const refused = (await client.messages.batches
        .create({ requests: requests('b', 1) })
        .catch((e: unknown) => e)) as ApiError;
      expect(refused.headers?.get('retry-after')).toBe('5');
      await client.messages.batches.retrieve(b.id); // instant: ended on the first look
      expect(emu.inspect.inFlight()).toEqual({ requests: 0, batches: 0 });
      await client.messages.batches.create({ requests: requests('b', 2) });
      emu.control.setProcessingQueue(null);
      await client.messages.batches.create({ requests: requests('c', 5) });
      expect(emu.inspect.inFlight().requests).toBe(7);
      expect(() => emu.control.setProcessingQueue({ maxRequests: 0 })).toThrow(/maxRequests/);
    } finally {
      await emu.close();
    }
  });

  it('a create larger than the whole cap is refused too', async () => {
    const emu = await startEmulator({ quiet: true, processingQueue: { maxRequests: 3 } });
    try {
      const err = (await sdk(emu, { maxRetries: 0 })
        .messages.batches.create({ requests: requests('a', 4) })
        .catch((e: unknown) => e)) as ApiError;
      expect(err.status).toBe(429);
      expect(emu.inspect.inFlight()).toEqual({ requests: 0, batches: 0 });
    } finally {
      await emu.close();
    }
  });
});
