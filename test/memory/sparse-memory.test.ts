import { describe, expect, it } from "vitest";
import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";

describe("sparse memory", () => {
  it("[VTD-MEM-1] reads unwritten memory as zeros and allocates nothing for reads", () => {
    const mem = new SparseMemory(1 << 30);
    expect(mem.read(0x1234_5000, 16)).toEqual(new Uint8Array(16));
    expect(mem.readU32(0x2000)).toBe(0);
    expect(mem.allocatedPages).toBe(0);
  });

  it("[VTD-MEM-1] writes across a page boundary and reads them back", () => {
    const mem = new SparseMemory(1 << 20);
    const data = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
    mem.write(0x1000 - 20, data);
    expect(mem.read(0x1000 - 20, 40)).toEqual(data);
    expect(mem.allocatedPages).toBe(2);
  });

  it("[VTD-MEM-1] stores 64-bit words little-endian", () => {
    const mem = new SparseMemory(1 << 20);
    writeU64(mem, 0x3008, 0x1122_3344_5566_7788n);
    expect(readU64(mem, 0x3008)).toBe(0x1122_3344_5566_7788n);
    expect(mem.read(0x3008, 2)).toEqual(Uint8Array.of(0x88, 0x77));
  });

  it("[VTD-MEM-2] knows which ranges lie inside the space", () => {
    const mem = new SparseMemory(0x10000);
    expect(mem.contains(0xfff8, 8)).toBe(true);
    expect(mem.contains(0xfffc, 8)).toBe(false);
    expect(mem.contains(0x10000, 1)).toBe(false);
  });

  it("[VTD-MEM-1] a page read before its first write sees the write afterwards", () => {
    const mem = new SparseMemory(1 << 24);
    expect(mem.readU32(0x5004)).toBe(0);
    mem.writeU32(0x5004, 0xdead_beef);
    expect(mem.readU32(0x5004)).toBe(0xdead_beef);
    mem.write(0x6000, Uint8Array.of(1, 2, 3, 4));
    expect(mem.readU32(0x6000)).toBe(0x0403_0201);
    expect(mem.allocatedPages).toBe(2);
  });

  it("[VTD-MEM-1] pages whose numbers share a lookup slot keep their own contents", () => {
    const mem = new SparseMemory(1 << 30);
    // Page numbers 0x10, 0x110 and 0x100010 are equal modulo every small power of two.
    const addrs = [0x10_000, 0x110_000, 0x1000_0000 + 0x10_000];
    addrs.forEach((a, i) => {
      mem.writeU32(a + 8, i + 1);
    });
    for (let round = 0; round < 2; round++) {
      addrs.forEach((a, i) => {
        expect(mem.readU32(a + 8)).toBe(i + 1);
        expect(mem.readU32(a + 12)).toBe(0);
      });
    }
    expect(mem.readU32(0x210_008)).toBe(0);
    expect(mem.allocatedPages).toBe(3);
  });

  it("[VTD-MEM-1] reads interleaved over more pages than are kept recent see every write", () => {
    const mem = new SparseMemory(1 << 30);
    const pages = [0x3000, 0x4000, 0x5000, 0x10000, 0x11000, 0x10_3000, 0x20_4000];
    const expected = new Map<number, number>();
    for (const [i, page] of pages.entries()) {
      for (const other of pages) expect(mem.readU32(other + 4)).toBe(expected.get(other) ?? 0);
      mem.writeU32(page + 4, 0x100 + i);
      expected.set(page, 0x100 + i);
      for (const other of [...pages].reverse()) expect(mem.readU32(other + 4)).toBe(expected.get(other) ?? 0);
    }
    mem.write(0x4ffe, Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd));
    expect(mem.readU32(0x4ffc)).toBe(0xbbaa_0000);
    expect(mem.readU32(0x5000)).toBe(0x0000_ddcc);
  });

  it("[VTD-MEM-1] addresses above 4 GiB keep their low bits", () => {
    const mem = new SparseMemory(2 ** 40);
    mem.writeU32(2 ** 36 + 0xffc, 7);
    expect(mem.readU32(2 ** 36 + 0xffc)).toBe(7);
    expect(mem.readU32(0xffc)).toBe(0);
    expect(mem.read(2 ** 36 + 0xffc, 4)).toEqual(Uint8Array.of(7, 0, 0, 0));
  });

  it("rejects a size that is not a whole number of pages", () => {
    expect(() => new SparseMemory(1000)).toThrow(/multiple of 4096/);
  });
});
