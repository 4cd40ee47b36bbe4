import { PAGE_SHIFT, PAGE_SIZE, type PhysicalMemory } from "./physical-memory.ts";

/** Slots of the page-lookup cache (a power of two). */
const SLOTS = 256;

/** What an unwritten page reads as; never written (writes allocate a real page first). */
const ZERO_PAGE = new Uint32Array(PAGE_SIZE >>> 2);

/**
 * Page-granular sparse memory: pages are allocated on first write.
 * [VTD-MEM-1] Unwritten memory reads as zeros.
 *
 * Word accesses go through a small direct-mapped cache of page lookups (slot = page number mod
 * SLOTS) in front of the page map, so a table walk, which touches a few pages over and over, does
 * not pay a hash lookup per word.
 */
export class SparseMemory implements PhysicalMemory {
  private readonly pages = new Map<number, Uint32Array>();
  /** Page number held by each slot, or -1. */
  private readonly slotPfn = new Float64Array(SLOTS).fill(-1);
  /** The page of each slot: a page of `pages`, or ZERO_PAGE for one not yet written. */
  private readonly slotPage: Uint32Array[] = new Array<Uint32Array>(SLOTS).fill(ZERO_PAGE);
  /** The page of the last read (ZERO_PAGE while that page is unwritten). */
  private lastPfn = -1;
  private lastPage: Uint32Array = ZERO_PAGE;

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`memory size must be a positive multiple of 4096, got ${size}`);
    }
  }

  contains(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  readU32(addr: number): number {
    const pfn = Math.floor(addr / PAGE_SIZE);
    // The page read last first: the two halves of a 64-bit entry are read back to back.
    const page = pfn === this.lastPfn ? this.lastPage : this.pageForRead(pfn);
    // addr & 0xfff is exact for any address below 2^53 (ToInt32 keeps the low bits).
    return page[(addr & 0xfff) >>> 2] as number;
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
      if (page !== undefined) out.set(new Uint8Array(page.buffer, off, n), done);
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
      new Uint8Array(this.pageFor(Math.floor(a / PAGE_SIZE)).buffer, off, n).set(
        data.subarray(done, done + n),
      );
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
    this.lastPfn = pfn;
    this.lastPage = page;
    return page;
  }

  /** The page of pfn, allocated when it was never written. */
  private pageFor(pfn: number): Uint32Array {
    const slot = pfn & (SLOTS - 1);
    const cached = this.slotPfn[slot] === pfn ? (this.slotPage[slot] as Uint32Array) : undefined;
    if (cached !== undefined && cached !== ZERO_PAGE) return cached;
    let page = this.pages.get(pfn);
    if (page === undefined) {
      page = new Uint32Array(PAGE_SIZE >>> 2);
      this.pages.set(pfn, page);
    }
    this.slotPfn[slot] = pfn;
    this.slotPage[slot] = page;
    if (pfn === this.lastPfn) this.lastPage = page;
    return page;
  }
}

export { PAGE_SHIFT };
