/**
 * [HARNESS-DRV-2] Table pages as the driver wrote them: every write goes to guest memory through the platform
 * surface, and a host-side mirror keeps the words so builders can edit entries in place without
 * reading them back. Pages the driver did not create (a raw pointer set by a generator) are
 * loaded from guest memory on first use; `refresh` re-reads a page the IOMMU may have changed
 * (accessed/dirty flags).
 */
import { DriverError, hex } from "./errors.ts";
import { type GuestMemory, readGuestWords, writeGuestWords } from "./guest-io.ts";
import { PAGE, type PageAllocator } from "./layout.ts";

const WORDS = PAGE / 8;

export class TableMemory {
  private readonly pages = new Map<number, BigUint64Array>();

  constructor(
    readonly mem: GuestMemory,
    readonly alloc: PageAllocator,
  ) {}

  /** A fresh table page from the table allocator, zeroed in guest memory. */
  async newPage(): Promise<number> {
    const page = this.alloc.alloc();
    await this.mem.writeGuest(BigInt(page), new Uint8Array(PAGE));
    this.pages.set(page, new BigUint64Array(WORDS));
    return page;
  }

  /** A zeroed, naturally aligned block of `bytes` (a power of two >= 4 KiB), e.g. a PASID directory. */
  async newBlock(bytes: number): Promise<number> {
    if (bytes === PAGE) return this.newPage();
    const base = this.alloc.allocAligned(bytes);
    await this.mem.writeGuest(BigInt(base), new Uint8Array(bytes));
    for (let p = base; p < base + bytes; p += PAGE) this.pages.set(p, new BigUint64Array(WORDS));
    return base;
  }

  /** Forget a page and return it to the allocator (only pages from `newPage`). */
  releasePage(page: number): void {
    this.pages.delete(page);
    this.alloc.free(page);
  }

  /** True when the mirror holds this page. */
  tracks(page: number): boolean {
    return this.pages.has(page);
  }

  /** The 64-bit word at addr (8-byte aligned), from the mirror; loads the page on first use. */
  async read(addr: number): Promise<bigint> {
    const words = await this.page(addr);
    return words[(addr % PAGE) / 8] as bigint;
  }

  /** Consecutive words from addr (within one page). */
  async readWords(addr: number, count: number): Promise<bigint[]> {
    const words = await this.page(addr);
    const i = (addr % PAGE) / 8;
    if (i + count > WORDS) throw new DriverError("argument", `${count} words at ${hex(addr)} cross a page`);
    return Array.from(words.subarray(i, i + count));
  }

  /** Write words at addr (8-byte aligned, within one page) to guest memory and the mirror. */
  async write(addr: number, words: readonly bigint[]): Promise<void> {
    const page = await this.page(addr);
    const i = (addr % PAGE) / 8;
    if (i + words.length > WORDS)
      throw new DriverError("argument", `${words.length} words at ${hex(addr)} cross a page`);
    await writeGuestWords(this.mem, addr, words);
    words.forEach((w, k) => {
      page[i + k] = BigInt.asUintN(64, w);
    });
  }

  /** Re-read a page from guest memory (the IOMMU may have set A/D bits). */
  async refresh(page: number): Promise<void> {
    const base = page - (page % PAGE);
    const words = await readGuestWords(this.mem, base, WORDS);
    this.pages.set(base, BigUint64Array.from(words));
  }

  private async page(addr: number): Promise<BigUint64Array> {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % 8 !== 0)
      throw new DriverError("argument", `table address ${addr} is not an 8-byte-aligned address`);
    const base = addr - (addr % PAGE);
    let words = this.pages.get(base);
    if (words === undefined) {
      await this.refresh(base);
      words = this.pages.get(base) as BigUint64Array;
    }
    return words;
  }
}
