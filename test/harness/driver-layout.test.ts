import { describe, expect, it } from "vitest";
import { DriverError } from "../../src/driver/errors.ts";
import { GuestLayout, PAGE, PageAllocator, usableSpans } from "../../src/driver/layout.ts";
import { memoryOf } from "./driver-fixtures.ts";

const overlaps = (a: { base: number; size: number }, b: { base: number; size: number }) =>
  a.base < b.base + b.size && b.base < a.base + a.size;

describe("guest layout", () => {
  it("[HARNESS-DRV-1] regions are disjoint, page aligned and skip page 0", () => {
    const l = new GuestLayout(memoryOf(16 << 20));
    const status = l.status.span;
    const tables = l.tables.spans[0]!;
    const data = l.data.spans[0]!;
    for (const s of [l.queue, status, tables, data]) {
      expect(s.base % PAGE).toBe(0);
      expect(s.base).toBeGreaterThanOrEqual(PAGE);
    }
    const all = [l.queue, status, tables, data];
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) expect(overlaps(all[i]!, all[j]!)).toBe(false);
    expect(l.queue.size).toBe(8 * PAGE);
    expect(tables.size).toBe(1023 * PAGE); // a quarter of the 4095 usable pages
  });

  it("[HARNESS-DRV-1] the interrupt range and read-only regions are never used", () => {
    const spans = usableSpans({
      size: 0x1_0000_0000n,
      regions: [
        { gpa: 0n, size: 0x1_0000_0000n, readOnly: false },
        { gpa: 0x1_0000_0000n, size: 0x1000n, readOnly: true },
      ],
    });
    for (const s of spans) expect(overlaps(s, { base: 0xfee0_0000, size: 0x10_0000 })).toBe(false);
    expect(spans.map((s) => s.base)).toEqual([0x1000, 0xfef0_0000]);
  });

  it("[HARNESS-DRV-1] allocation is deterministic and reuses freed pages lowest first", () => {
    const a = new PageAllocator("t", [{ base: 0x10000, size: 0x10000 }]);
    const p = [a.alloc(), a.alloc(), a.alloc()];
    expect(p).toEqual([0x10000, 0x11000, 0x12000]);
    a.free(0x12000);
    a.free(0x10000);
    expect(a.alloc()).toBe(0x10000);
    expect(a.alloc()).toBe(0x12000);
    expect(a.used).toBe(3);
    expect(() => a.free(0x15000)).toThrow(DriverError);
  });

  it("[HARNESS-DRV-1] aligned blocks are naturally aligned; skipped pages stay usable", () => {
    const a = new PageAllocator("d", [{ base: 0x1000, size: 0x40_0000 }]);
    expect(a.alloc()).toBe(0x1000);
    const big = a.allocAligned(0x20_0000);
    expect(big).toBe(0x20_0000);
    expect(a.alloc()).toBe(0x2000);
    expect(() => a.allocAligned(0x40_0000)).toThrow(/no room/);
    expect(() => a.allocAligned(0x3000)).toThrow(DriverError);
  });

  it("[HARNESS-DRV-1] a memory too small for the reserved regions is a precise error", () => {
    expect(() => new GuestLayout(memoryOf(64 * PAGE))).toThrow(/too small/);
  });
});
