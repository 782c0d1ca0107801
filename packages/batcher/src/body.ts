/** One claimed request: its custom_id and its params JSON exactly as stored. */
export type ClaimedItem = [cid: string, params: string];

const OPEN = '{"requests":[';
const CLOSE = ']}';
const ITEM_HEAD = '{"custom_id":';
const ITEM_MID = ',"params":';
/** Bytes of the body around the items: `{"requests":[` + `]}`. */
export const ENVELOPE_BYTES = OPEN.length + CLOSE.length;

/** Serialized bytes of one item `{"custom_id":"…","params":…}` (what records carry as `bytes`). */
export function itemBytes([cid, params]: ClaimedItem): number {
  return ITEM_HEAD.length + cid.length + 2 + ITEM_MID.length + Buffer.byteLength(params) + 1;
}

/** Bytes of a create body holding items whose sizes sum to `sum`. */
export function bodyBytes(count: number, sum: number): number {
  return ENVELOPE_BYTES + sum + Math.max(count - 1, 0);
}

/**
 * The `batches.create` body as one Buffer, written straight from the stored params strings: no
 * JSON.parse / JSON.stringify of 100k objects (the memory and CPU of a 100k × 1 KB flush is two
 * copies of the bytes: the strings and this buffer). custom_ids match `[A-Za-z0-9_-]`, so they
 * need no escaping; one that does not is quoted with JSON.stringify and the API judges it.
 */
export function buildBody(items: ClaimedItem[]): Buffer {
  let sum = 0;
  const cids: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const [cid, params] = items[i]!;
    const quoted = /^[A-Za-z0-9_-]*$/.test(cid) ? `"${cid}"` : JSON.stringify(cid);
    cids[i] = quoted;
    sum += ITEM_HEAD.length + Buffer.byteLength(quoted) + ITEM_MID.length + Buffer.byteLength(params) + 1;
  }
  const buf = Buffer.allocUnsafe(bodyBytes(items.length, sum));
  let off = buf.write(OPEN, 0, 'latin1');
  for (let i = 0; i < items.length; i++) {
    if (i > 0) off += buf.write(',', off, 'latin1');
    off += buf.write(ITEM_HEAD, off, 'latin1');
    off += buf.write(cids[i]!, off, 'utf8');
    off += buf.write(ITEM_MID, off, 'latin1');
    off += buf.write(items[i]![1], off, 'utf8');
    off += buf.write('}', off, 'latin1');
  }
  off += buf.write(CLOSE, off, 'latin1');
  if (off !== buf.length) throw new Error(`batch body: wrote ${off} of ${buf.length} bytes`);
  return buf;
}
