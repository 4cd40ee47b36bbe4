import { PAGE_SHIFT, PAGE_SIZE, type PhysicalMemory } from "./physical-memory.ts";

/**
 * Page-granular sparse memory: pages are allocated on first write.
 * [VTD-MEM-1] Unwritten memory reads as zeros.
 */
export class SparseMemory implements PhysicalMemory {
  private readonly pages = new Map<number, Uint32Array>();

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`memory size must be a positive multiple of 4096, got ${size}`);
    }
  }

  contains(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  readU32(addr: number): number {
    const page = this.pages.get(Math.floor(addr / PAGE_SIZE));
    return page === undefined ? 0 : (page[(addr % PAGE_SIZE) >>> 2] as number);
  }

  writeU32(addr: number, value: number): void {
    this.pageFor(Math.floor(addr / PAGE_SIZE))[(addr % PAGE_SIZE) >>> 2] = value >>> 0;
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

  private pageFor(pfn: number): Uint32Array {
    let page = this.pages.get(pfn);
    if (page === undefined) {
      page = new Uint32Array(PAGE_SIZE >>> 2);
      this.pages.set(pfn, page);
    }
    return page;
  }
}

export { PAGE_SHIFT };
