import * as crypto from 'node:crypto';

// crypto.hash (Node ≥ 20.12) skips the Hash object: measurably faster for 1 KB inputs hashed 100k times.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/** sha256 of a string as hex; same output as `sha256Hex` from shared. */
export function sha256(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}
