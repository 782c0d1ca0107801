import { closeOnce } from '@nightshift/shared';
import { describe, expect, it } from 'vitest';

describe('closeOnce', () => {
  it('runs the shutdown once: a concurrent and a later call answer the same promise', async () => {
    let runs = 0;
    let finish!: () => void;
    const close = closeOnce(() => {
      runs++;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    const first = close();
    const concurrent = close();
    expect(concurrent).toBe(first);
    finish();
    await first;
    expect(close()).toBe(first);
    expect(runs).toBe(1);
  });

  it('answers a failed shutdown as the same rejection to every caller', async () => {
    const close = closeOnce(async () => {
      throw new Error('quit refused');
    });
    await expect(close()).rejects.toThrow('quit refused');
    await expect(close()).rejects.toThrow('quit refused');
  });
});
