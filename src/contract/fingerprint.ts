/**
 * Target-page fingerprints [ORACLE-FP-1]: the harness fills every DMA target page so that each
 * 8-byte word names its own guest-physical address and a tag. A DMA read then tells which
 * page (and offset) it reached, and a report can say so in words.
 *
 * Word layout (little-endian u64): bits 63:48 = 0xF1A9 ^ tag, bits 47:0 = the word's own GPA.
 */

const MAGIC = 0xf1a9;
const GPA_MASK = (1n << 48n) - 1n;

/** The fingerprint word stored at `gpa` (8-byte aligned) for `tag` (0..0xffff, except 0xF1A9). */
export function fingerprintWord(gpa: number, tag: number): bigint {
  return (BigInt((MAGIC ^ tag) & 0xffff) << 48n) | (BigInt(gpa) & GPA_MASK);
}

/** Pages made recently, by GPA and tag: cases fill the same pages again and again. */
const made = new Map<string, Uint8Array>();
const MADE_LIMIT = 512;

/** A whole 4 KiB page of fingerprints for the page at `pageGpa` (a fresh copy each call). */
export function fingerprintPage(pageGpa: number, tag: number): Uint8Array {
  const key = `${pageGpa}/${tag}`;
  let page = made.get(key);
  if (page === undefined) {
    page = makeFingerprintPage(pageGpa, tag);
    if (made.size >= MADE_LIMIT) made.clear();
    made.set(key, page);
  }
  return page.slice();
}

function makeFingerprintPage(pageGpa: number, tag: number): Uint8Array {
  const out = new Uint8Array(4096);
  const view = new DataView(out.buffer);
  if (!Number.isSafeInteger(pageGpa) || pageGpa < 0 || pageGpa + 4096 > Number.MAX_SAFE_INTEGER) {
    for (let off = 0; off < 4096; off += 8) view.setBigUint64(off, fingerprintWord(pageGpa + off, tag), true);
    return out;
  }
  // The same words as fingerprintWord, as 32-bit halves (no BigInt per word).
  const top = ((MAGIC ^ tag) & 0xffff) << 16;
  for (let off = 0; off < 4096; off += 8) {
    const a = pageGpa + off;
    view.setUint32(off, a % 0x1_0000_0000, true);
    view.setUint32(off + 4, (top | (Math.floor(a / 0x1_0000_0000) & 0xffff)) >>> 0, true);
  }
  return out;
}

export interface FingerprintHit {
  /** GPA of the 4 KiB page the data came from. */
  page: number;
  /** GPA of the first byte of the data. */
  gpa: number;
  tag: number;
}

/**
 * Identify where `data` (read at a device address whose offset in the page is `pageOffset`)
 * came from: the first whole 8-byte word inside the data decides. Null when the data holds no
 * whole word or the word is not a fingerprint consistent with the offset.
 */
export function decodeFingerprint(data: Uint8Array, pageOffset: number): FingerprintHit | null {
  const first = (8 - (pageOffset % 8)) % 8;
  if (first + 8 > data.length) return null;
  let w = 0n;
  for (let k = 7; k >= 0; k--) w = (w << 8n) | BigInt(data[first + k] as number);
  const gpa = Number(w & GPA_MASK);
  const wordOffset = (pageOffset + first) % 4096;
  if (gpa % 4096 !== wordOffset) return null;
  if (w >> 48n === 0n) return null; // zeroed memory is not a fingerprint (tag 0xF1A9 is never used)
  const tag = Number(w >> 48n) ^ MAGIC;
  return { page: gpa - wordOffset, gpa: gpa - first, tag };
}
