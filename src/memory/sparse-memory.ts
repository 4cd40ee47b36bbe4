import { PageArena } from "./page-arena.ts";
import { PAGE_SHIFT, PAGE_SIZE, type PhysicalMemory } from "./physical-memory.ts";

/** Slots of the page-lookup cache (a power of two). */
const SLOTS = 256;

/** What an unwritten page reads as; never written (writes allocate a real page first). */
const ZERO_PAGE = new Uint32Array(PAGE_SIZE >>> 2);

/**
 * Page-granular sparse memory: pages are allocated on first write.
 * [VTD-MEM-1] Unwritten memory reads as zeros.
 *
 * Word reads look for their page among the four pages read most recently, then in a small
 * direct-mapped cache of page lookups (slot = page number mod SLOTS), then in the page map, so a
 * table walk, which touches a few pages over and over, does not pay a hash lookup per word.
 */
export class SparseMemory implements PhysicalMemory {
  private readonly pages = new Map<number, Uint32Array>();
  private readonly arena = new PageArena();
  /** Page number held by each slot, or -1. */
  private readonly slotPfn = new Float64Array(SLOTS).fill(-1);
  /** The page of each slot: a page of `pages`, or ZERO_PAGE for one not yet written. */
  private readonly slotPage: Uint32Array[] = new Array<Uint32Array>(SLOTS).fill(ZERO_PAGE);
  /**
   * The four pages read most recently, by base address (ZERO_PAGE while a page is unwritten; base
   * -2 pages: none). Fields rather than arrays: the read path is a few compares.
   */
  private base0 = -2 * PAGE_SIZE;
  private base1 = -2 * PAGE_SIZE;
  private base2 = -2 * PAGE_SIZE;
  private base3 = -2 * PAGE_SIZE;
  private page0: Uint32Array = ZERO_PAGE;
  private page1: Uint32Array = ZERO_PAGE;
  private page2: Uint32Array = ZERO_PAGE;
  private page3: Uint32Array = ZERO_PAGE;

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`memory size must be a positive multiple of 4096, got ${size}`);
    }
  }

  contains(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  readU32(addr: number): number {
    // The four pages read most recently first: a table walk reads one page per level, over and over.
    let off = addr - this.base0;
    if (off >= 0 && off < PAGE_SIZE) return this.page0[off >>> 2] as number;
    off = addr - this.base1;
    if (off >= 0 && off < PAGE_SIZE) return this.page1[off >>> 2] as number;
    off = addr - this.base2;
    if (off >= 0 && off < PAGE_SIZE) return this.page2[off >>> 2] as number;
    off = addr - this.base3;
    if (off >= 0 && off < PAGE_SIZE) return this.page3[off >>> 2] as number;
    // addr & 0xfff is exact for any address below 2^53 (ToInt32 keeps the low bits).
    return this.recent(Math.floor(addr / PAGE_SIZE))[(addr & 0xfff) >>> 2] as number;
  }

  writeU32(addr: number, value: number): void {
    this.pageFor(Math.floor(addr / PAGE_SIZE))[(addr & 0xfff) >>> 2] = value >>> 0;
  }

  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const pfn = Math.floor(a / PAGE_SIZE);
      const off = a % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      const page = this.pages.get(pfn);
      if (page !== undefined) out.set(new Uint8Array(page.buffer, page.byteOffset + off, n), done);
      done += n;
    }
    return out;
  }

  write(addr: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const a = addr + done;
      const off = a % PAGE_SIZE;
      const n = Math.min(data.length - done, PAGE_SIZE - off);
      const page = this.pageFor(Math.floor(a / PAGE_SIZE));
      new Uint8Array(page.buffer, page.byteOffset + off, n).set(data.subarray(done, done + n));
      done += n;
    }
  }

  /** Number of pages that have been written (for tests and diagnostics). */
  get allocatedPages(): number {
    return this.pages.size;
  }

  /** The page to read pfn from: its own page, or ZERO_PAGE when it was never written. */
  private pageForRead(pfn: number): Uint32Array {
    const slot = pfn & (SLOTS - 1);
    let page = this.slotPage[slot] as Uint32Array;
    if (this.slotPfn[slot] !== pfn) {
      page = this.pages.get(pfn) ?? ZERO_PAGE;
      this.slotPfn[slot] = pfn;
      this.slotPage[slot] = page;
    }
    return page;
  }

  /** The page of pfn for reading, made the most recent of the four (the oldest drops out). */
  private recent(pfn: number): Uint32Array {
    const page = this.pageForRead(pfn);
    this.base3 = this.base2;
    this.page3 = this.page2;
    this.base2 = this.base1;
    this.page2 = this.page1;
    this.base1 = this.base0;
    this.page1 = this.page0;
    this.base0 = pfn * PAGE_SIZE;
    this.page0 = page;
    return page;
  }

  /** The page of pfn, allocated when it was never written. */
  private pageFor(pfn: number): Uint32Array {
    const slot = pfn & (SLOTS - 1);
    const cached = this.slotPfn[slot] === pfn ? (this.slotPage[slot] as Uint32Array) : undefined;
    if (cached !== undefined && cached !== ZERO_PAGE) return cached;
    let page = this.pages.get(pfn);
    if (page === undefined) {
      const b = this.arena.block(PAGE_SIZE);
      page = new Uint32Array(b.buffer, b.byteOffset, PAGE_SIZE >>> 2);
      this.pages.set(pfn, page);
    }
    this.slotPfn[slot] = pfn;
    this.slotPage[slot] = page;
    // A page that was read as zeros before its first write: the recent pages must see the real one.
    const base = pfn * PAGE_SIZE;
    if (base === this.base0) this.page0 = page;
    if (base === this.base1) this.page1 = page;
    if (base === this.base2) this.page2 = page;
    if (base === this.base3) this.page3 = page;
    return page;
  }
}

export { PAGE_SHIFT };
