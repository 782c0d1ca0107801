const OPEN = Buffer.from('{"requests":[');
const CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');
const ITEM_HEAD = '{"custom_id":';
const ITEM_MID = ',"params":';
/** Bytes of the body around the items: `{"requests":[` + `]}`. */
export const ENVELOPE_BYTES = OPEN.length + CLOSE.length;
/** Bytes written per claim chunk buffer before a new one is started. */
const CHUNK_TARGET = 4 * 1024 * 1024;

/** Bytes of a create body holding `count` items whose sizes sum to `sum`. */
export function bodyBytes(count: number, sum: number): number {
  return ENVELOPE_BYTES + sum + Math.max(count - 1, 0);
}

const quote = (cid: string) => (/^[A-Za-z0-9_-]*$/.test(cid) ? `"${cid}"` : JSON.stringify(cid));

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

  get size(): number {
    return this.cids.length;
  }

  /** Appends claimed `[cid, params]` pairs; returns their indexes. */
  append(pairs: [cid: string, params: string][]): number[] {
    const out: number[] = [];
    for (const [cid, params] of pairs) {
      const q = quote(cid);
      const len = ITEM_HEAD.length + Buffer.byteLength(q) + ITEM_MID.length + Buffer.byteLength(params) + 1;
      const at = this.room(len + 1);
      const c = this.current!;
      if (at > 0) c.used += c.buf.write(',', c.used, 'latin1');
      const s = c.used;
      c.used += c.buf.write(ITEM_HEAD, c.used, 'latin1');
      c.used += c.buf.write(q, c.used, 'utf8');
      c.used += c.buf.write(ITEM_MID, c.used, 'latin1');
      c.used += c.buf.write(params, c.used, 'utf8');
      c.used += c.buf.write('}', c.used, 'latin1');
      out.push(this.cids.length);
      this.cids.push(cid);
      this.where.push(c.index);
      this.start.push(s);
      this.end.push(c.used);
    }
    return out;
  }

  /** Makes room for `n` more bytes; returns the current buffer's used length before the write. */
  private room(n: number): number {
    const c = this.current;
    if (c && c.buf.length - c.used >= n) return c.used;
    if (c) this.chunks[c.index] = c.buf.subarray(0, c.used);
    const buf = Buffer.allocUnsafe(Math.max(CHUNK_TARGET, n));
    this.current = { buf, used: 0, index: this.chunks.length };
    this.chunks.push(buf);
    return 0;
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
