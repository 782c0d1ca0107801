const OPEN = Buffer.from('{"requests":[');
const CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');
const ITEM_HEAD = Buffer.from('{"custom_id":');
const ITEM_MID = Buffer.from(',"params":');
const SAFE_ID = /^[A-Za-z0-9_-]*$/;
/** Bytes of the body around the items: `{"requests":[` + `]}`. */
export const ENVELOPE_BYTES = OPEN.length + CLOSE.length;
/** Bytes written per claim chunk buffer before a new one is started. */
const CHUNK_TARGET = 4 * 1024 * 1024;

/** Bytes of a create body holding `count` items whose sizes sum to `sum`. */
export function bodyBytes(count: number, sum: number): number {
  return ENVELOPE_BYTES + sum + Math.max(count - 1, 0);
}

/**
 * The serialized requests of one flush, written once, straight from the stored params strings
 * (no JSON.parse / JSON.stringify of 100k objects) into a few large buffers: each item
 * `{"custom_id":"…","params":<stored JSON>}`, items of a buffer joined by ','. The strings from
 * the claim are garbage as soon as they are copied, so a 100k × 1 KB flush holds about one copy
 * of its bytes. Bodies of any subset (a split half, the rest after a rejection) are streamed as
 * views into these buffers. custom_ids match `[A-Za-z0-9_-]`; one that does not is quoted with
 * JSON.stringify and left for the API to judge.
 */
export class ItemBuffer {
  readonly cids: string[] = [];
  private readonly chunks: Buffer[] = [];
  private readonly where: number[] = []; // chunk index per item
  private readonly start: number[] = [];
  private readonly end: number[] = [];
  private current: { buf: Buffer; used: number; index: number } | null = null;

  /** @param chunkBytes size of each underlying buffer (tests use small ones to cross boundaries). */
  constructor(private readonly chunkBytes = CHUNK_TARGET) {}

  get size(): number {
    return this.cids.length;
  }

  /**
   * Appends claimed `[cid, params]` pairs (raw bytes from the claim, or strings); returns their
   * indexes. Bytes are copied as they are: no UTF-8 decoding and re-encoding of the params.
   */
  append(pairs: [cid: Buffer | string, params: Buffer | string][]): number[] {
    const out: number[] = [];
    for (const [rawCid, rawParams] of pairs) {
      const cid = typeof rawCid === 'string' ? rawCid : rawCid.toString('utf8');
      const params = typeof rawParams === 'string' ? Buffer.from(rawParams) : rawParams;
      const quoted = SAFE_ID.test(cid) ? null : Buffer.from(JSON.stringify(cid));
      const idBytes = quoted ? quoted.length : cid.length + 2;
      const c = this.room(ITEM_HEAD.length + idBytes + ITEM_MID.length + params.length + 2);
      if (c.used > 0) c.buf[c.used++] = 0x2c; // ','
      const s = c.used;
      c.used += ITEM_HEAD.copy(c.buf, c.used);
      if (quoted) c.used += quoted.copy(c.buf, c.used);
      else {
        c.buf[c.used++] = 0x22; // '"'
        c.used += c.buf.write(cid, c.used, 'latin1');
        c.buf[c.used++] = 0x22;
      }
      c.used += ITEM_MID.copy(c.buf, c.used);
      c.used += params.copy(c.buf, c.used);
      c.buf[c.used++] = 0x7d; // '}'
      out.push(this.cids.length);
      this.cids.push(cid);
      this.where.push(c.index);
      this.start.push(s);
      this.end.push(c.used);
    }
    return out;
  }

  /** The current buffer, or a new one when fewer than `n` bytes are left in it. */
  private room(n: number): { buf: Buffer; used: number; index: number } {
    const c = this.current;
    if (c && c.buf.length - c.used >= n) return c;
    if (c) this.chunks[c.index] = c.buf.subarray(0, c.used);
    const next = {
      buf: Buffer.allocUnsafe(Math.max(this.chunkBytes, n)),
      used: 0,
      index: this.chunks.length,
    };
    this.current = next;
    this.chunks.push(next.buf);
    return next;
  }

  /** Serialized bytes of one item. */
  itemBytes(i: number): number {
    return this.end[i]! - this.start[i]!;
  }

  /** Sum of the items' serialized bytes. */
  sumBytes(items: number[]): number {
    let s = 0;
    for (const i of items) s += this.itemBytes(i);
    return s;
  }

  /**
   * The create body of `items` (in order) as a stream of views, and its exact length. Runs of
   * items stored next to each other go out as one view, separators included.
   */
  body(items: number[]): { stream: ReadableStream<Uint8Array>; length: number } {
    const views: Uint8Array[] = [OPEN];
    let length = OPEN.length + CLOSE.length;
    for (let k = 0; k < items.length; ) {
      const first = items[k]!;
      let last = first;
      while (
        k + 1 < items.length &&
        items[k + 1] === last + 1 &&
        this.where[last + 1] === this.where[first]
      ) {
        last = items[++k]!;
      }
      k++;
      if (views.length > 1) {
        views.push(COMMA);
        length += COMMA.length;
      }
      views.push(this.chunkBuffer(this.where[first]!).subarray(this.start[first], this.end[last]));
      length += this.end[last]! - this.start[first]!;
    }
    views.push(CLOSE);
    let next = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (next < views.length) controller.enqueue(views[next++]!);
        else controller.close();
      },
    });
    return { stream, length };
  }

  private chunkBuffer(index: number): Buffer {
    const c = this.current;
    return c && c.index === index ? c.buf.subarray(0, c.used) : this.chunks[index]!;
  }
}
