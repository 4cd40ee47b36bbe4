import { describe, expect, it } from "vitest";
import { PageArena } from "../../src/memory/page-arena.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";

describe("PageArena", () => {
  it("[VTD-MEM-1] blocks are zeroed, 8-byte aligned and never overlap, across buffers", () => {
    const arena = new PageArena(2 * 4096, 8 * 4096);
    const seen: Array<{ buffer: ArrayBuffer; from: number; to: number }> = [];
    for (let i = 0; i < 40; i++) {
      const size = i % 3 === 0 ? 8192 : 4096;
      const b = arena.block(size);
      expect(b.byteOffset % 8).toBe(0);
      const bytes = new Uint8Array(b.buffer, b.byteOffset, size);
      expect(bytes.every((x) => x === 0)).toBe(true);
      for (const s of seen)
        if (s.buffer === b.buffer) expect(b.byteOffset >= s.to || b.byteOffset + size <= s.from).toBe(true);
      bytes.fill(0xff); // a later block must not see this
      seen.push({ buffer: b.buffer, from: b.byteOffset, to: b.byteOffset + size });
    }
    expect(new Set(seen.map((s) => s.buffer)).size).toBeGreaterThan(3);
  });

  it("[VTD-MEM-1] a sparse memory with pages from shared buffers keeps every page apart", () => {
    const m = new SparseMemory(1 << 30);
    for (let p = 0; p < 100; p++)
      m.write(
        p * 0x10000 + 4090,
        Uint8Array.from({ length: 12 }, (_v, i) => p + i),
      );
    for (let p = 0; p < 100; p++) {
      expect([...m.read(p * 0x10000 + 4088, 16)]).toEqual([
        0,
        0,
        ...Array.from({ length: 12 }, (_v, i) => p + i),
        0,
        0,
      ]);
      expect(m.readU32(p * 0x10000 + 4096)).toBe(
        ((p + 6) | ((p + 7) << 8) | ((p + 8) << 16) | ((p + 9) << 24)) >>> 0,
      );
    }
  });
});
