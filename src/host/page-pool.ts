import { PAGE_SIZE, type PhysicalMemory } from "../memory/physical-memory.ts";
import { Errno, fail } from "../spec/iommufd/errno.ts";

/**
 * The host kernel's page allocator for IOMMU page-table pages: a fixed window of host
 * physical memory that user space cannot map (IOAS_MAP of it fails with EFAULT).
 * Pages are handed out zeroed, lowest address first, and reused after free, so runs
 * are deterministic. [HOST-XLATE-2]
 */
export class PagePool {
  private readonly free: number[] = [];
  private next: number;

  constructor(
    private readonly memory: PhysicalMemory,
    readonly base: number,
    readonly size: number,
  ) {
    if (base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || !memory.contains(base, size)) {
      throw new RangeError(
        `page pool [0x${base.toString(16)}, +0x${size.toString(16)}) is not in host memory`,
      );
    }
    this.next = base;
  }

  /** True when [addr, addr+len) overlaps the pool. */
  overlaps(addr: number, len: number): boolean {
    return addr < this.base + this.size && addr + len > this.base;
  }

  /** A zeroed 4 KiB page; ENOMEM when the pool is exhausted. */
  alloc(): number {
    const page = this.free.length > 0 ? (this.free.sort((a, b) => b - a).pop() as number) : this.take();
    this.memory.write(page, new Uint8Array(PAGE_SIZE));
    return page;
  }

  release(page: number): void {
    this.free.push(page);
  }

  private take(): number {
    if (this.next + PAGE_SIZE > this.base + this.size) fail(Errno.ENOMEM, "IOMMU page-table pool exhausted");
    const page = this.next;
    this.next += PAGE_SIZE;
    return page;
  }
}

/** Default pool: the top quarter of host memory, at most 16 MiB, page-aligned. */
export function defaultPoolWindow(memorySize: number): { base: number; size: number } {
  const size = Math.min(16 * 1024 * 1024, Math.floor(memorySize / 4 / PAGE_SIZE) * PAGE_SIZE);
  return { base: memorySize - size, size };
}
