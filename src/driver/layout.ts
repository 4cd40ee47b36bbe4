/**
 * [HARNESS-DRV-1] Guest-memory layout for the driver: disjoint regions for the invalidation queue, the wait
 * status words, table pages and data (DMA target) pages, carved deterministically out of the
 * platform's RAM regions, so builders, generators and properties never hand out the same page
 * twice. Page 0 and the interrupt address range are never used: a zeroed pointer must not name a
 * real table, and DMA to 0xFEE0_0000-0xFEEF_FFFF is an interrupt, not memory (fault reasons
 * LGN.4 / SGN.8).
 */
import type { PlatformConfig } from "../contract/types.ts";
import { DriverError, hex } from "./errors.ts";

export const PAGE = 4096;
const INTERRUPT_BASE = 0xfee0_0000;
const INTERRUPT_END = 0xfef0_0000;

/** A run of guest-physical memory, page aligned. */
export interface Span {
  base: number;
  size: number;
}

/**
 * Hands out 4 KiB pages (or naturally aligned power-of-two blocks) from a list of spans, lowest
 * address first. Freed pages are reused lowest first, so a run is reproducible from its steps.
 */
export class PageAllocator {
  private spanIndex = 0;
  private cursor: number;
  /** Free single pages below the cursor, ascending. */
  private freed: number[] = [];
  /** Blocks handed out: base -> size. */
  private readonly blocks = new Map<number, number>();
  private inUse = 0;

  constructor(
    readonly name: string,
    readonly spans: readonly Span[],
  ) {
    this.cursor = spans[0]?.base ?? 0;
  }

  /** Pages this allocator can hold in all. */
  get capacity(): number {
    return this.spans.reduce((n, s) => n + s.size / PAGE, 0);
  }

  /** Pages handed out and not freed. */
  get used(): number {
    return this.inUse;
  }

  contains(addr: number): boolean {
    return this.spans.some((s) => addr >= s.base && addr < s.base + s.size);
  }

  /** One 4 KiB page (its content is whatever guest memory holds; builders clear it). */
  alloc(): number {
    const reused = this.freed.shift();
    if (reused === undefined) return this.allocAligned(PAGE);
    this.blocks.set(reused, PAGE);
    this.inUse++;
    return reused;
  }

  /**
   * A contiguous block of `size` bytes (a power of two, at least 4 KiB) aligned to its size, for
   * 2 MiB / 1 GiB page targets and multi-page queues. Pages skipped for alignment become free.
   */
  allocAligned(size: number): number {
    if (!Number.isSafeInteger(size) || size < PAGE || (size & (size - 1)) !== 0)
      throw new DriverError("argument", `${this.name}: block size ${size} is not a power of two >= 4096`);
    const skipped: number[] = [];
    while (this.spanIndex < this.spans.length) {
      const span = this.spans[this.spanIndex] as Span;
      const end = span.base + span.size;
      const start = Math.ceil(this.cursor / size) * size;
      if (start + size <= end) {
        for (let p = this.cursor; p < start; p += PAGE) skipped.push(p);
        this.release(skipped);
        this.cursor = start + size;
        this.blocks.set(start, size);
        this.inUse += size / PAGE;
        return start;
      }
      // Whatever is left of this span stays usable for single pages.
      for (let p = this.cursor; p < end; p += PAGE) skipped.push(p);
      this.spanIndex++;
      if (this.spanIndex < this.spans.length) this.cursor = (this.spans[this.spanIndex] as Span).base;
      else this.cursor = end;
    }
    this.release(skipped);
    throw new DriverError("layout", `${this.name}: no room for ${size} bytes (${this.inUse} pages in use)`, {
      allocator: this.name,
      size,
    });
  }

  /** Give back a page or block returned by `alloc` / `allocAligned`. */
  free(base: number): void {
    const size = this.blocks.get(base);
    if (size === undefined)
      throw new DriverError("layout", `${this.name}: ${hex(base)} is not allocated here`);
    this.blocks.delete(base);
    this.inUse -= size / PAGE;
    const pages: number[] = [];
    for (let p = base; p < base + size; p += PAGE) pages.push(p);
    this.release(pages);
  }

  private release(pages: number[]): void {
    if (pages.length === 0) return;
    this.freed = [...this.freed, ...pages].sort((a, b) => a - b);
  }
}

/** Rotating 32-bit status words for wait descriptors, inside a reserved span. */
export class StatusWords {
  private n = 0;
  constructor(readonly span: Span) {
    if (span.size < 4) throw new DriverError("layout", "status area is empty");
  }
  /** The next status address (dword aligned), cycling through the span. */
  next(): number {
    const slots = Math.floor(this.span.size / 4);
    const at = this.span.base + (this.n % slots) * 4;
    this.n++;
    return at;
  }
}

export interface LayoutOptions {
  /** Pages reserved for the invalidation queue (default 8: enough for IQA.QS up to 3). */
  queuePages?: number;
  /** Pages reserved for wait status words (default 1). */
  statusPages?: number;
  /** Pages for table pages (default: a quarter of usable RAM, 64 to 4096 pages). */
  tablePages?: number;
}

/** RAM spans of a memory map: writable regions, page-aligned, without page 0 and the interrupt range. */
export function usableSpans(memory: PlatformConfig["memory"]): Span[] {
  const size = Number(memory.size);
  const regions =
    memory.regions.length > 0
      ? memory.regions
          .filter((r) => !r.readOnly)
          .map((r) => ({ base: Number(r.gpa), end: Number(r.gpa + r.size) }))
      : [{ base: 0, end: size }];
  const out: Span[] = [];
  for (const r of regions) {
    let base = Math.max(PAGE, Math.ceil(r.base / PAGE) * PAGE);
    const end = Math.min(size, Math.floor(r.end / PAGE) * PAGE);
    const pieces: Array<[number, number]> = [];
    if (base < INTERRUPT_BASE && end > INTERRUPT_BASE) {
      pieces.push([base, INTERRUPT_BASE]);
      base = INTERRUPT_END;
    }
    if (base < INTERRUPT_END && base >= INTERRUPT_BASE) base = INTERRUPT_END;
    pieces.push([base, end]);
    for (const [b, e] of pieces) if (e > b) out.push({ base: b, size: e - b });
  }
  return out.sort((a, b) => a.base - b.base);
}

/**
 * Where everything the driver writes lives. The queue, status words and table pages come from the
 * start of the largest RAM span; data pages from the rest of it and from every other span.
 */
export class GuestLayout {
  readonly queue: Span;
  readonly status: StatusWords;
  readonly tables: PageAllocator;
  readonly data: PageAllocator;

  constructor(memory: PlatformConfig["memory"], opts: LayoutOptions = {}) {
    const spans = usableSpans(memory);
    const largest = spans.reduce<Span | undefined>(
      (m, s) => (m === undefined || s.size > m.size ? s : m),
      undefined,
    );
    if (largest === undefined) throw new DriverError("layout", "guest memory has no writable RAM");
    const total = spans.reduce((n, s) => n + s.size / PAGE, 0);
    const queuePages = opts.queuePages ?? 8;
    const statusPages = opts.statusPages ?? 1;
    const tablePages = opts.tablePages ?? Math.min(4096, Math.max(64, Math.floor(total / 4)));
    const reserved = (queuePages + statusPages + tablePages) * PAGE;
    if (queuePages < 1 || statusPages < 1 || tablePages < 1 || reserved >= largest.size)
      throw new DriverError(
        "layout",
        `guest memory too small: ${queuePages}+${statusPages}+${tablePages} reserved pages do not fit in ${largest.size / PAGE} pages`,
      );
    let at = largest.base;
    this.queue = { base: at, size: queuePages * PAGE };
    at += this.queue.size;
    this.status = new StatusWords({ base: at, size: statusPages * PAGE });
    at += statusPages * PAGE;
    this.tables = new PageAllocator("tables", [{ base: at, size: tablePages * PAGE }]);
    at += tablePages * PAGE;
    const dataSpans = spans
      .map((s) => (s === largest ? { base: at, size: largest.base + largest.size - at } : s))
      .filter((s) => s.size > 0);
    this.data = new PageAllocator("data", dataSpans);
  }
}
