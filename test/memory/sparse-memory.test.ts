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

  it("rejects a size that is not a whole number of pages", () => {
    expect(() => new SparseMemory(1000)).toThrow(/multiple of 4096/);
  });
});
