import { describe, expect, it } from 'vitest';
import { ItemBuffer } from '../src/body.js';

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts).toString('utf8');
}

const pairs: [string, string][] = [
  ['a', JSON.stringify({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'héllo ✓ 👋' }] })],
  ['b', JSON.stringify({ model: 'm', max_tokens: 2, messages: [{ role: 'user', content: 'x'.repeat(90) }] })],
  ['c', '{"model":"m","max_tokens":3}'],
  ['d', '{"k":"\\"quoted\\" \\u2028"}'],
  ['bad id', '{}'],
];
const expected = (sel: [string, string][]) =>
  JSON.stringify({ requests: sel.map(([cid, p]) => ({ custom_id: cid, params: JSON.parse(p) })) });

describe('the create body', () => {
  it('is the exact JSON of any subset, across buffer boundaries, with its exact length', async () => {
    for (const chunkBytes of [16, 200, 4096]) {
      const buf = new ItemBuffer(chunkBytes);
      const idx = buf.append(pairs.slice(0, 2));
      idx.push(...buf.append(pairs.slice(2)));
      for (const sel of [idx, idx.slice(0, 1), idx.slice(1, 4), idx.filter((i) => i !== 2), []]) {
        const { stream, length } = buf.body(sel);
        const body = await text(stream);
        expect(Buffer.byteLength(body)).toBe(length);
        expect(JSON.parse(body)).toEqual(JSON.parse(expected(sel.map((i) => pairs[i]!))));
      }
      expect(buf.sumBytes(idx)).toBe(
        pairs.reduce(
          (s, [cid, p]) =>
            s +
            Buffer.byteLength(JSON.stringify({ custom_id: cid }).slice(0, -1)) +
            10 +
            Buffer.byteLength(p) +
            1,
          0,
        ),
      );
    }
  });
});
