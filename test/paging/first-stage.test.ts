import { describe, expect, it } from "vitest";
import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import {
  type FirstStageParams,
  hi32,
  lo32,
  type PagingResult,
  WalkTrace,
  walkFirstStage,
} from "../../src/paging/index.ts";
import { encodeFsEntry } from "../../src/spec/paging-entry.ts";
import { Tables } from "./tables.ts";

const MEM = 1 << 30;

function setup(levels: 4 | 5 = 4, over: Partial<FirstStageParams> = {}) {
  const mem = new SparseMemory(MEM);
  const t = new Tables(mem);
  const root = t.alloc();
  const p: FirstStageParams = { root, levels, haw: 46, fs1gp: true, wpe: false, eafe: false, ...over };
  const walk = (iova: bigint, write = false, priv = false): PagingResult =>
    walkFirstStage(mem, p, hi32(iova), lo32(iova), write, priv);
  return { mem, t, root, p, walk };
}

function fault(r: PagingResult) {
  if (r.ok) throw new Error(`expected a fault, got ${r.addr.toString(16)}`);
  return r;
}

describe("first-stage walk", () => {
  it("[VTD-FS-2] translates a 4 KiB page through 4 levels", () => {
    const { t, root, walk } = setup();
    t.mapFs(root, 4, 0x7f12_3456_7000n, 0x3000_0000);
    const r = walk(0x7f12_3456_7abcn);
    expect(r).toMatchObject({ ok: true, base: 0x3000_0000, addr: 0x3000_0abc, pageShift: 12 });
  });

  it("[VTD-FS-2] translates 2 MiB and 1 GiB pages, ignoring PAT at bit 12", () => {
    const { mem, t, root, walk } = setup();
    t.mapFs(root, 4, 0x4020_0000n, 0x2000_0000, { leafLevel: 2 });
    expect(walk(0x4021_2345n)).toMatchObject({ ok: true, addr: 0x2001_2345, pageShift: 21 });
    t.mapFs(root, 4, 0x80_0000_0000n, 0x4000_0000, { leafLevel: 3 });
    expect(walk(0x80_1234_5678n)).toMatchObject({ ok: true, addr: 0x5234_5678, pageShift: 30 });
    const leaf = t.entryAt(root, 4, 0x4020_0000n, 2);
    writeU64(mem, leaf, readU64(mem, leaf) | (1n << 12n));
    expect(walk(0x4021_2345n)).toMatchObject({ ok: true, addr: 0x2001_2345 });
  });

  it("[VTD-FS-2] walks 5 levels with bits 56:48", () => {
    const { t, root, walk } = setup(5);
    const iova = 0x00ab_cdef_1234_5000n;
    t.mapFs(root, 5, iova, 0x1234_5000);
    expect(walk(iova | 0x10n)).toMatchObject({ ok: true, addr: 0x1234_5010 });
    expect(fault(walk(iova ^ (1n << 48n))).kind).toBe("not-present");
  });

  it("[VTD-FS-1] refuses non-canonical inputs for 4- and 5-level paging", () => {
    const four = setup(4);
    four.t.mapFs(four.root, 4, 0x1000n, 0x5000);
    expect(fault(four.walk(0x8000_0000_0000n))).toMatchObject({ kind: "non-canonical", level: 0 });
    expect(fault(four.walk(0xffff_8000_0000_0000n)).kind).toBe("not-present");
    expect(fault(four.walk(0x1_0000_0000_1000n)).kind).toBe("non-canonical");
    const five = setup(5);
    expect(fault(five.walk(0x0100_0000_0000_0000n)).kind).toBe("non-canonical");
    expect(fault(five.walk(0x0080_0000_0000_0000n)).kind).toBe("not-present");
    expect(fault(five.walk(0xff00_0000_0000_0000n)).kind).toBe("not-present");
    expect(fault(five.walk(0xfe00_0000_0000_0000n)).kind).toBe("non-canonical");
  });

  it("[VTD-FS-3] a not-present entry faults at its level", () => {
    const { mem, t, root, walk } = setup();
    const iova = 0x1234_5000n;
    t.mapFs(root, 4, iova, 0x9000);
    for (const level of [1, 2, 3, 4]) {
      const slot = t.entryAt(root, 4, iova, level);
      const saved = readU64(mem, slot);
      writeU64(mem, slot, saved & ~1n);
      expect(fault(walk(iova))).toMatchObject({ kind: "not-present", level, entryAddr: slot });
      writeU64(mem, slot, saved);
    }
  });

  it("[VTD-FS-4] reserved bits: above HAW, PS at level 4, low bits of a large leaf, PS without FS1GP", () => {
    const { mem, t, root, walk } = setup();
    const iova = 0x4000_0000n;
    t.mapFs(root, 4, iova, 0x20_0000, { leafLevel: 2 });
    const pde = t.entryAt(root, 4, iova, 2);
    const good = readU64(mem, pde);
    writeU64(mem, pde, good | (1n << 46n));
    expect(fault(walk(iova))).toMatchObject({ kind: "reserved", level: 2 });
    writeU64(mem, pde, good | (1n << 13n));
    expect(fault(walk(iova))).toMatchObject({ kind: "reserved", level: 2 });
    writeU64(mem, pde, good | (1n << 63n) | (1n << 52n) | (1n << 11n));
    expect(walk(iova).ok).toBe(true);
    const pml4e = t.entryAt(root, 4, iova, 4);
    writeU64(mem, pml4e, readU64(mem, pml4e) | (1n << 7n));
    expect(fault(walk(iova))).toMatchObject({ kind: "reserved", level: 4 });
    const no1g = setup(4, { fs1gp: false });
    no1g.t.mapFs(no1g.root, 4, iova, 0x4000_0000, { leafLevel: 3 });
    expect(fault(no1g.walk(iova))).toMatchObject({ kind: "reserved", level: 3 });
  });

  it("[VTD-FS-6] user requests need U/S everywhere, user writes R/W everywhere", () => {
    const { t, root, walk } = setup();
    t.mapFs(root, 4, 0x1000n, 0x5000, { user: false });
    expect(fault(walk(0x1000n))).toMatchObject({ kind: "user-supervisor", level: 1 });
    expect(walk(0x1000n, false, true).ok).toBe(true);
    t.mapFs(root, 4, 0x2000n, 0x6000, { write: false });
    expect(walk(0x2000n).ok).toBe(true);
    expect(fault(walk(0x2000n, true))).toMatchObject({ kind: "no-write", level: 1 });
  });

  it("[VTD-FS-6] a read-only upper level blocks user writes below it", () => {
    const { t, root, walk } = setup();
    t.mapFs(root, 4, 0x1000n, 0x5000, {
      upper: { 3: encodeFsEntry({ addr: t.alloc(), write: false, user: true }) },
    });
    expect(walk(0x1000n).ok).toBe(true);
    expect(fault(walk(0x1000n, true)).kind).toBe("no-write");
  });

  it("[VTD-FS-6] supervisor writes ignore R/W unless WPE", () => {
    const a = setup(4, { wpe: false });
    a.t.mapFs(a.root, 4, 0x1000n, 0x5000, { write: false, user: false });
    expect(a.walk(0x1000n, true, true).ok).toBe(true);
    const b = setup(4, { wpe: true });
    b.t.mapFs(b.root, 4, 0x1000n, 0x5000, { write: false, user: false });
    expect(fault(b.walk(0x1000n, true, true)).kind).toBe("no-write");
    expect(b.walk(0x1000n, false, true).ok).toBe(true);
  });

  it("[VTD-FS-5] a structural fault below wins over a permission fault above", () => {
    const { mem, t, root, walk } = setup();
    t.mapFs(root, 4, 0x1000n, 0x5000, {
      upper: { 4: encodeFsEntry({ addr: t.alloc(), write: true, user: false }) },
    });
    const pte = t.entryAt(root, 4, 0x1000n, 1);
    writeU64(mem, pte, 0n);
    expect(fault(walk(0x1000n)).kind).toBe("not-present");
  });

  it("[VTD-FS-7] sets A on every entry, D on the leaf only for writes, EA with EAFE", () => {
    const { mem, t, root, walk } = setup();
    const iova = 0x1000n;
    t.mapFs(root, 4, iova, 0x5000);
    walk(iova);
    for (const level of [4, 3, 2, 1]) {
      const w = readU64(mem, t.entryAt(root, 4, iova, level));
      expect((w >> 5n) & 1n).toBe(1n);
      expect((w >> 6n) & 1n).toBe(0n);
      expect((w >> 10n) & 1n).toBe(0n);
    }
    walk(iova, true);
    expect((readU64(mem, t.entryAt(root, 4, iova, 1)) >> 6n) & 1n).toBe(1n);
    expect((readU64(mem, t.entryAt(root, 4, iova, 2)) >> 6n) & 1n).toBe(0n);
    const ea = setup(4, { eafe: true });
    ea.t.mapFs(ea.root, 4, iova, 0x5000);
    ea.walk(iova);
    expect((readU64(ea.mem, ea.t.entryAt(ea.root, 4, iova, 3)) >> 10n) & 1n).toBe(1n);
  });

  it("[VTD-FS-7] a faulting request changes no flag", () => {
    const { mem, t, root, walk } = setup();
    t.mapFs(root, 4, 0x1000n, 0x5000, { write: false });
    const before = mem.read(root, 8);
    fault(walk(0x1000n, true));
    expect(mem.read(root, 8)).toEqual(before);
  });

  it("[VTD-FS-8] non-snooped walks fault when a flag must change, not when all are set", () => {
    const { t, root, walk, mem, p } = setup(4, { adNonSnooped: true });
    t.mapFs(root, 4, 0x1000n, 0x5000);
    expect(fault(walk(0x1000n))).toMatchObject({ kind: "ad-non-snooped", level: 4 });
    const snooped = { ...p, adNonSnooped: false };
    walkFirstStage(mem, snooped, 0, 0x1000, false, false);
    expect(walk(0x1000n).ok).toBe(true);
    expect(fault(walk(0x1000n, true))).toMatchObject({ kind: "ad-non-snooped", level: 1 });
  });

  it("[VTD-FS-9] entries outside memory are access errors (root vs below)", () => {
    const mem = new SparseMemory(0x20_0000);
    const p: FirstStageParams = { root: 0x40_0000, levels: 4, haw: 46, fs1gp: true, wpe: false, eafe: false };
    expect(fault(walkFirstStage(mem, p, 0, 0x1000, false, false))).toMatchObject({
      kind: "root-access",
      root: true,
      level: 4,
    });
    const t = new Tables(mem, 0x1000);
    const root = t.alloc();
    t.mapFs(root, 4, 0x1000n, 0x5000, {
      upper: { 2: encodeFsEntry({ addr: 0x8000_0000, write: true, user: true }) },
    });
    expect(fault(walkFirstStage(mem, { ...p, root }, 0, 0x1000, false, false))).toMatchObject({
      kind: "entry-access",
      level: 1,
    });
  });

  it("[VTD-FS-9] a self-referencing table ends in a translation or fault", () => {
    const { mem, root, walk } = setup();
    // Entry 0 of the root points back at the root at every level.
    writeU64(mem, root, encodeFsEntry({ addr: root, write: true, user: true }));
    const r = walk(0n);
    expect(r).toMatchObject({ ok: true, base: root });
  });

  it("[VTD-FS-9] arbitrary bytes in tables never throw", () => {
    const mem = new SparseMemory(1 << 24);
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    for (let page = 0; page < 64; page++) {
      for (let i = 0; i < 1024; i++) mem.writeU32(page * 4096 + i * 4, rnd() & (i % 2 ? 0xff : 0xffffffff));
    }
    for (let i = 0; i < 2000; i++) {
      const p: FirstStageParams = {
        root: (rnd() % 64) * 4096,
        levels: i % 2 ? 4 : 5,
        haw: 24 + (i % 28),
        fs1gp: i % 3 === 0,
        wpe: false,
        eafe: i % 5 === 0,
      };
      const r = walkFirstStage(mem, p, rnd() & 0x7fff, rnd(), i % 2 === 0, i % 3 === 0);
      expect(typeof r.ok).toBe("boolean");
    }
  });

  it("[VTD-FS-2] a walk resumed from a trace entry gives the same translation", () => {
    const { mem, t, root, p } = setup();
    const iova = 0x12_3456_7000n;
    t.mapFs(root, 4, iova, 0xabc_d000);
    const trace = new WalkTrace();
    const full = walkFirstStage(mem, p, hi32(iova), lo32(iova), false, false, trace);
    expect(trace.count).toBe(3);
    const start = {
      level: (trace.level[1] as number) - 1,
      table: trace.next[1] as number,
      perms: trace.perms[1] as number,
    };
    const resumed = walkFirstStage(mem, p, hi32(iova), lo32(iova), false, false, undefined, start);
    expect(resumed).toEqual(full);
  });
});
