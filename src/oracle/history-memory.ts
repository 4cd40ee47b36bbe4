/**
 * Guest memory as the oracle knows it, with history [ORACLE-MEM-1]: every 8-byte word keeps the
 * list of (time, value) pairs it held, so a walk can read memory "as it was at step t" and the
 * timeline engine can find the next step at which a word it read changed.
 * Times are step indices of the observed stream; unwritten words read as zero [VTD-MEM-1].
 */

interface WordHistory {
  times: number[];
  values: bigint[];
}

/** A read-only view of memory at one moment, as the oracle's walk reads it. */
export interface WordReader {
  readonly size: number;
  /** The 64-bit little-endian word at an 8-byte-aligned address (0 when never written). */
  word(addr: number): bigint;
}

export class HistoryMemory {
  private readonly words = new Map<number, WordHistory>();

  constructor(readonly size: number) {}

  contains(addr: number, len: number): boolean {
    return Number.isSafeInteger(addr) && addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  /** Word value at `addr` (8-aligned) as of time `t` (after the step at t); latest when t is omitted. */
  wordAt(addr: number, t = Number.POSITIVE_INFINITY): bigint {
    const h = this.words.get(addr);
    if (h === undefined) return 0n;
    // Last entry with time <= t (binary search).
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
   * Write bytes at time t; returns the 8-aligned addresses of the words whose value changed.
   * Writes at the same time as the word's last entry replace it (one step, one version).
   */
  write(t: number, addr: number, bytes: Uint8Array): number[] {
    const changed: number[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let i = 0;
    while (i < bytes.length) {
      const a = addr + i;
      const base = a - (a % 8);
      const off = a - base;
      const n = Math.min(8 - off, bytes.length - i);
      const old = this.wordAt(base);
      let v = old;
      // Whole words (the common case: tables and pages) in one read; partial words byte by byte.
      if (n === 8) v = view.getBigUint64(i, true);
      else
        for (let k = 0; k < n; k++) {
          const sh = BigInt((off + k) * 8);
          v = (v & ~(0xffn << sh)) | (BigInt(bytes[i + k] as number) << sh);
        }
      if (v !== old) {
        this.set(base, t, v);
        changed.push(base);
      }
      i += n;
    }
    return changed;
  }

  /** Bytes [addr, addr+len) as of time t (latest when omitted). */
  read(addr: number, len: number, t = Number.POSITIVE_INFINITY): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = addr + i;
      const base = a - (a % 8);
      out[i] = Number((this.wordAt(base, t) >> BigInt((a - base) * 8)) & 0xffn);
    }
    return out;
  }

  /** The first time after `t` at which the word at addr changed, or Infinity. */
  nextChange(addr: number, t: number): number {
    const h = this.words.get(addr);
    if (h === undefined) return Number.POSITIVE_INFINITY;
    for (const time of h.times) if (time > t) return time;
    return Number.POSITIVE_INFINITY;
  }

  /** A reader frozen at time t. */
  at(t: number): WordReader {
    return { size: this.size, word: (addr: number) => this.wordAt(addr, t) };
  }

  private set(addr: number, t: number, v: bigint): void {
    let h = this.words.get(addr);
    if (h === undefined) {
      h = { times: [], values: [] };
      this.words.set(addr, h);
    }
    const last = h.times.length - 1;
    if (last >= 0 && h.times[last] === t) h.values[last] = v;
    else {
      h.times.push(t);
      h.values.push(v);
    }
  }
}
