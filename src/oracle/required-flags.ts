/**
 * [ORACLE-JUDGE-11] Flags a DMA's walk must have set: the A (EA) flags of the entries it read
 * from memory, and D of the leaf for a write, required at later guest reads of those words until
 * software writes them again (VT-d 5.10 §3.6.2, §3.7.2, §6.2.4.1, §6.2.5.1–§6.2.5.4).
 */

/** One entry a walk read from memory: the A (EA) bits it sets there, D for a write, and when. */
export interface UsedWord {
  /** A, and EA with EAFE (first stage); A with SSADE (second stage). */
  accessed: bigint;
  /** D a write sets when this entry is the leaf; 0n otherwise. */
  dirty: bigint;
  /** The earliest step at which a walk of this outcome could have read (and flagged) the word. */
  since: number;
}

/** Entries (8-byte aligned address) every way of reaching an outcome read from memory. */
export type Used = ReadonlyMap<number, UsedWord>;

export const NO_USE: Used = new Map();

/** Entries both ways read, with the flags both set, from the earlier step. */
export function intersectUsed(a: Used, b: Used): Used {
  if (a === b) return a;
  if (a.size === 0 || b.size === 0) return NO_USE;
  const out = new Map<number, UsedWord>();
  for (const [at, x] of a) {
    const y = b.get(at);
    if (y === undefined) continue;
    const accessed = x.accessed & y.accessed;
    const dirty = x.dirty & y.dirty;
    if (accessed === 0n && dirty === 0n) continue;
    out.set(at, { accessed, dirty, since: Math.min(x.since, y.since) });
  }
  return out;
}

/** `used` with one more entry read at step `since` (bits 0n: nothing to set, not added). */
export function withUse(used: Used, at: number, accessed: bigint, dirty: bigint, since: number): Used {
  if (accessed === 0n && dirty === 0n) return used;
  const out = new Map(used);
  const had = out.get(at);
  out.set(
    at,
    had === undefined
      ? { accessed, dirty, since }
      : { accessed: had.accessed | accessed, dirty: had.dirty | dirty, since: Math.min(had.since, since) },
  );
  return out;
}

/** Word address → flag bits. */
export type Required = ReadonlyMap<number, bigint>;

/** Required bits by word, intersected (a word only if both require it, the bits both require). */
export function intersectRequired(a: Required, b: Required): Required {
  if (a === b) return a;
  const out = new Map<number, bigint>();
  for (const [at, x] of a) {
    const bits = x & (b.get(at) ?? 0n);
    if (bits !== 0n) out.set(at, bits);
  }
  return out;
}

/**
 * [ORACLE-JUDGE-11] What the oracle requires of guest reads: the flags of the words DMAs' walks
 * must have set, each dropped when software (or a DMA) writes its word again.
 */
const PAGE = 4096;
const NONE: Required = new Map();

export class RequiredFlags {
  /**
   * Last step software or a DMA wrote each word, not counting reads absorbed: per 4 KiB page, one
   * slot per 8-byte word (whole pages are written often: a typed-array fill, no hashing).
   */
  private readonly written = new Map<number, Float64Array>();
  /** Required bits by word, with the DMA step that made them required. */
  private readonly required = new Map<number, { bits: bigint; step: number }>();

  /** Software or a DMA wrote [addr, addr + len) at step t: those words' requirements end. */
  wrote(t: number, addr: number, len: number): void {
    if (len <= 0) return;
    const first = addr - (addr % 8);
    const end = addr + len;
    for (let p = first - (first % PAGE); p < end; p += PAGE) {
      let slots = this.written.get(p);
      if (slots === undefined) {
        slots = new Float64Array(PAGE / 8).fill(Number.NEGATIVE_INFINITY);
        this.written.set(p, slots);
      }
      const lo = Math.max(first, p);
      const hi = Math.min(end, p + PAGE);
      slots.fill(t, (lo - p) / 8, Math.ceil((hi - p) / 8));
    }
    if (this.required.size === 0) return;
    if ((end - first) / 8 <= this.required.size) for (let w = first; w < end; w += 8) this.required.delete(w);
    else for (const w of [...this.required.keys()]) if (w + 8 > first && w < end) this.required.delete(w);
  }

  /** Whether the word at `at` was written by software or a DMA after step `since`. */
  rewrittenAfter(at: number, since: number): boolean {
    const slots = this.written.get(at - (at % PAGE));
    return slots !== undefined && (slots[(at % PAGE) / 8] as number) > since;
  }

  /** The outcome's entries still holding the flags its walk set, as required bits. */
  requiredOf(used: Used, write: boolean): Required {
    if (used.size === 0) return NONE;
    const out = new Map<number, bigint>();
    for (const [at, u] of used) {
      if (this.rewrittenAfter(at, u.since)) continue;
      const bits = u.accessed | (write ? u.dirty : 0n);
      if (bits !== 0n) out.set(at, bits);
    }
    return out;
  }

  /** A DMA at step t made these flags required. */
  require(t: number, req: Required): void {
    for (const [at, bits] of req) {
      const had = this.required.get(at);
      this.required.set(at, { bits: (had?.bits ?? 0n) | bits, step: had?.step ?? t });
    }
  }

  /** The first required flag a guest read of [gpa, gpa + bytes.length) shows clear, if any. */
  missing(gpa: number, bytes: Uint8Array): { at: number; bits: bigint; step: number } | undefined {
    if (this.required.size === 0) return undefined;
    const end = gpa + bytes.length;
    for (let w = gpa - (gpa % 8); w < end; w += 8) {
      const r = this.required.get(w);
      if (r === undefined) continue;
      for (let b = 0; b < 8; b++) {
        const a = w + b;
        if (a < gpa || a >= end) continue;
        const want = (r.bits >> BigInt(b * 8)) & 0xffn;
        const seen = BigInt(bytes[a - gpa] as number);
        if ((seen & want) !== want) return { at: w, bits: r.bits, step: r.step };
      }
    }
    return undefined;
  }
}
