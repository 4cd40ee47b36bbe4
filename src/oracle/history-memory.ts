/**
 * Guest memory as the oracle knows it, with history [ORACLE-MEM-1]: every 8-byte word keeps the
 * list of (time, value) pairs it held, so a walk can read memory "as it was at step t" and the
 * timeline engine can find the next step at which a word it read changed.
 * Times are step indices of the observed stream; unwritten words read as zero [VTD-MEM-1].
 *
 * Stored compactly, since the harness writes whole pages at almost every step: each 4 KiB page
 * keeps its latest bytes and, per word, the time of its latest version; only words that changed
 * more than once keep a list of their earlier versions. Writing or reading the latest contents
 * touches bytes only, no BigInt.
 */

import { Buffer } from "node:buffer";
import { PageArena } from "../memory/page-arena.ts";

const PAGE = 4096;
const WORDS = PAGE / 8;
/** Zeros to compare against (never written). */
const ZEROS = new Uint8Array(PAGE);

interface Older {
  times: number[];
  values: bigint[];
}

interface Page {
  /** The latest value of every word, little-endian. */
  readonly bytes: Uint8Array;
  /** The same bytes as 32-bit units, for comparing and copying whole words. */
  readonly halves: Uint32Array;
  readonly view: DataView;
  /**
   * Time of each word's latest version, plus one; 0 while never changed (it reads as zero at every
   * time). Read through lastTime.
   */
  readonly latest: Float64Array;
  /** Versions before the latest, oldest first, of words that changed more than once. */
  older?: Map<number, Older>;
}

/** A read-only view of memory at one moment, as the oracle's walk reads it. */
export interface WordReader {
  readonly size: number;
  /** The 64-bit little-endian word at an 8-byte-aligned address (0 when never written). */
  word(addr: number): bigint;
}

export class HistoryMemory {
  private readonly pages = new Map<number, Page>();
  private readonly arena = new PageArena();

  constructor(readonly size: number) {}

  contains(addr: number, len: number): boolean {
    return Number.isSafeInteger(addr) && addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  /** Word value at `addr` (8-aligned) as of time `t` (after the step at t); latest when t is omitted. */
  wordAt(addr: number, t = Number.POSITIVE_INFINITY): bigint {
    const page = this.pages.get(Math.floor(addr / PAGE));
    if (page === undefined) return 0n;
    const off = addr % PAGE;
    const w = off >>> 3;
    const last = lastTime(page, w);
    if (last < 0) return 0n;
    if (last <= t) return page.view.getBigUint64(off, true);
    const h = page.older?.get(w);
    if (h === undefined) return 0n;
    // Last earlier version with time <= t (binary search).
    let lo = 0;
    let hi = h.times.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((h.times[mid] as number) <= t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0n : (h.values[found] as bigint);
  }

  /**
   * Write bytes at time t; returns how many words changed value. Writes at the same time as the
   * word's latest version replace it (one step, one version).
   */
  write(t: number, addr: number, bytes: Uint8Array): number {
    let changed = 0;
    let i = 0;
    while (i < bytes.length) {
      const a = addr + i;
      const pageIndex = Math.floor(a / PAGE);
      const pageOff = a % PAGE;
      const n = Math.min(PAGE - pageOff, bytes.length - i);
      const src = bytes.subarray(i, i + n);
      let page = this.pages.get(pageIndex);
      if (page === undefined) {
        if (Buffer.compare(src, ZEROS.subarray(0, n)) === 0) {
          i += n; // zeros over never-written memory change nothing
          continue;
        }
        page = newPage(this.arena);
        this.pages.set(pageIndex, page);
        if (n === PAGE) {
          changed += fillNewPage(page, t, src);
          i += n;
          continue;
        }
      } else if (Buffer.compare(src, page.bytes.subarray(pageOff, pageOff + n)) === 0) {
        i += n; // the same bytes again (a read-back, a rewrite): nothing changes
        continue;
      }
      changed += writeInPage(page, t, pageOff, bytes, i, n);
      i += n;
    }
    return changed;
  }

  /** Bytes [addr, addr+len) as of time t (latest when omitted). */
  read(addr: number, len: number, t = Number.POSITIVE_INFINITY): Uint8Array {
    const out = new Uint8Array(len);
    let i = 0;
    while (i < len) {
      const a = addr + i;
      const pageIndex = Math.floor(a / PAGE);
      const pageOff = a % PAGE;
      const n = Math.min(PAGE - pageOff, len - i);
      const page = this.pages.get(pageIndex);
      if (page !== undefined) {
        if (t === Number.POSITIVE_INFINITY) out.set(page.bytes.subarray(pageOff, pageOff + n), i);
        else
          for (let k = 0; k < n; k++) {
            const b = pageIndex * PAGE + pageOff + k;
            const base = b - (b % 8);
            out[i + k] = Number((this.wordAt(base, t) >> BigInt((b - base) * 8)) & 0xffn);
          }
      }
      i += n;
    }
    return out;
  }

  /** The first time after `t` at which the word at addr changed, or Infinity. */
  nextChange(addr: number, t: number): number {
    const page = this.pages.get(Math.floor(addr / PAGE));
    if (page === undefined) return Number.POSITIVE_INFINITY;
    const w = (addr % PAGE) >>> 3;
    const last = lastTime(page, w);
    if (last <= t) return Number.POSITIVE_INFINITY; // also never changed (-1)
    const h = page.older?.get(w);
    if (h !== undefined) for (const time of h.times) if (time > t) return time;
    return last;
  }

  /** A reader frozen at time t. */
  at(t: number): WordReader {
    return { size: this.size, word: (addr: number) => this.wordAt(addr, t) };
  }
}

function newPage(arena: PageArena): Page {
  // Bytes, then the times, in one zeroed block.
  const { buffer, byteOffset } = arena.block(PAGE + WORDS * 8);
  return {
    bytes: new Uint8Array(buffer, byteOffset, PAGE),
    halves: new Uint32Array(buffer, byteOffset, PAGE / 4),
    view: new DataView(buffer, byteOffset, PAGE),
    latest: new Float64Array(buffer, byteOffset + PAGE, WORDS),
  };
}

/** Time of word w's latest version, or -1 when it never changed. */
function lastTime(page: Page, w: number): number {
  return (page.latest[w] as number) - 1;
}

/** A whole page written to a page that held nothing yet: every nonzero word changes at t. */
function fillNewPage(page: Page, t: number, src: Uint8Array): number {
  page.bytes.set(src);
  const h = page.halves;
  if (h.indexOf(0) < 0) {
    page.latest.fill(t + 1); // no zero half, so no zero word (fingerprint pages)
    return WORDS;
  }
  let changed = 0;
  for (let w = 0; w < WORDS; w++)
    if (h[2 * w] !== 0 || h[2 * w + 1] !== 0) {
      page.latest[w] = t + 1;
      changed++;
    }
  return changed;
}

/** Keep the version of word w about to be replaced at time t (unless it is t's own). */
function keepOlder(page: Page, w: number, t: number): void {
  const last = lastTime(page, w);
  if (last < 0 || last === t) return;
  page.older ??= new Map();
  let h = page.older.get(w);
  if (h === undefined) {
    h = { times: [], values: [] };
    page.older.set(w, h);
  }
  h.times.push(last);
  h.values.push(page.view.getBigUint64(w * 8, true));
}

/** Write n bytes (src[from..]) at pageOff of one page at time t; returns the words changed. */
function writeInPage(
  page: Page,
  t: number,
  pageOff: number,
  src: Uint8Array,
  from: number,
  n: number,
): number {
  if (pageOff % 8 === 0 && n % 8 === 0 && (src.byteOffset + from) % 4 === 0)
    return writeWords(page, t, pageOff >>> 3, new Uint32Array(src.buffer, src.byteOffset + from, n >>> 2));
  const { bytes } = page;
  let changed = 0;
  let k = 0;
  while (k < n) {
    const off = pageOff + k;
    const wordOff = off - (off % 8);
    const m = Math.min(wordOff + 8 - off, n - k);
    let differs = false;
    for (let j = 0; j < m; j++)
      if (bytes[off + j] !== src[from + k + j]) {
        differs = true;
        break;
      }
    if (differs) {
      changed++;
      keepOlder(page, wordOff >>> 3, t);
      page.latest[wordOff >>> 3] = t + 1;
      for (let j = 0; j < m; j++) bytes[off + j] = src[from + k + j] as number;
    }
    k += m;
  }
  return changed;
}

/** Whole words from `first` on, compared and copied as 32-bit halves (byte order does not matter). */
function writeWords(page: Page, t: number, first: number, src: Uint32Array): number {
  const dst = page.halves;
  let changed = 0;
  for (let j = 0; j < src.length; j += 2) {
    const d = 2 * first + j;
    const lo = src[j] as number;
    const hi = src[j + 1] as number;
    if (dst[d] === lo && dst[d + 1] === hi) continue;
    changed++;
    const w = first + j / 2;
    keepOlder(page, w, t);
    page.latest[w] = t + 1;
    dst[d] = lo;
    dst[d + 1] = hi;
  }
  return changed;
}
