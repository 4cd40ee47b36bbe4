import { describe, expect, it } from "vitest";
import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import {
  hi32,
  lo32,
  type PagingResult,
  type SecondStageParams,
  walkSecondStage,
} from "../../src/paging/index.ts";
import { encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { Tables } from "./tables.ts";

function setup(levels: 3 | 4 | 5 = 4, over: Partial<SecondStageParams> = {}) {
  const mem = new SparseMemory(1 << 30);
  const t = new Tables(mem);
  const root = t.alloc();
  const p: SecondStageParams = {
    root,
    levels,
    inputWidth: levels === 3 ? 39 : levels === 4 ? 48 : 57,
    haw: 46,
    snoopControl: false,
    largePages: { twoMiB: true, oneGiB: true },
    ssade: false,
    ...over,
  };
  const walk = (iova: bigint, write = false): PagingResult =>
    walkSecondStage(mem, p, hi32(iova), lo32(iova), write);
  return { mem, t, root, p, walk };
}

function fault(r: PagingResult) {
  if (r.ok) throw new Error("expected a fault");
  return r;
}

describe("second-stage walk", () => {
  it("[VTD-SS-2] translates through 3, 4 and 5 levels", () => {
    for (const levels of [3, 4, 5] as const) {
      const { t, root, walk } = setup(levels);
      const iova = levels === 3 ? 0x7f_1234_5000n : levels === 4 ? 0xabcd_1234_5000n : 0x1ab_cdef_1234_5000n;
      t.mapSs(root, levels, iova, 0x77_7000);
      expect(walk(iova | 0x123n)).toMatchObject({ ok: true, addr: 0x77_7123, ssR: true, ssW: true });
    }
  });

  it("[VTD-SS-1] input beyond min(MGAW, AGAW) faults before any read", () => {
    const { walk } = setup(3);
    expect(fault(walk(1n << 39n))).toMatchObject({ kind: "input-beyond-width", level: 0 });
    const narrow = setup(4, { inputWidth: 39 });
    expect(fault(narrow.walk(1n << 40n)).kind).toBe("input-beyond-width");
    expect(fault(narrow.walk((1n << 39n) - 4096n)).kind).toBe("not-present");
  });

  it("[VTD-SS-2] large pages of 2 MiB and 1 GiB", () => {
    const { t, root, walk } = setup();
    t.mapSs(root, 4, 0x4000_0000n, 0x20_0000, { leafLevel: 2 });
    expect(walk(0x4001_2345n)).toMatchObject({ ok: true, addr: 0x21_2345, pageShift: 21 });
    t.mapSs(root, 4, 0x80_0000_0000n, 0x4000_0000, { leafLevel: 3 });
    expect(walk(0x80_0765_4321n)).toMatchObject({ ok: true, addr: 0x4765_4321, pageShift: 30 });
  });

  it("[VTD-SS-4] PS is reserved without the page size, at levels 4/5, and large-leaf low bits", () => {
    const no2m = setup(4, { largePages: { twoMiB: false, oneGiB: true } });
    no2m.t.mapSs(no2m.root, 4, 0x4000_0000n, 0x20_0000, { leafLevel: 2 });
    expect(fault(no2m.walk(0x4000_0000n))).toMatchObject({ kind: "reserved", level: 2 });
    const no1g = setup(4, { largePages: { twoMiB: true, oneGiB: false } });
    no1g.t.mapSs(no1g.root, 4, 0x4000_0000n, 0x4000_0000, { leafLevel: 3 });
    expect(fault(no1g.walk(0x4000_0000n))).toMatchObject({ kind: "reserved", level: 3 });
    const { mem, t, root, walk } = setup();
    t.mapSs(root, 4, 0x4000_0000n, 0x20_0000, { leafLevel: 2 });
    const pde = t.entryAt(root, 4, 0x4000_0000n, 2);
    writeU64(mem, pde, readU64(mem, pde) | (1n << 12n));
    expect(fault(walk(0x4000_0000n)).kind).toBe("reserved");
    const pml4e = t.entryAt(root, 4, 0x4000_0000n, 4);
    writeU64(mem, pde, readU64(mem, pde) & ~(1n << 12n));
    writeU64(mem, pml4e, readU64(mem, pml4e) | (1n << 7n));
    expect(fault(walk(0x4000_0000n))).toMatchObject({ kind: "reserved", level: 4 });
  });

  it("[VTD-SS-4] SNP is reserved in non-leaves, and in leaves without snoop control", () => {
    const sc = setup(4, { snoopControl: true });
    sc.t.mapSs(sc.root, 4, 0x1000n, 0x5000, { snoop: true });
    expect(sc.walk(0x1000n).ok).toBe(true);
    const pde = sc.t.entryAt(sc.root, 4, 0x1000n, 2);
    writeU64(sc.mem, pde, readU64(sc.mem, pde) | (1n << 11n));
    expect(fault(sc.walk(0x1000n))).toMatchObject({ kind: "reserved", level: 2 });
    const nosc = setup(4, { snoopControl: false });
    nosc.t.mapSs(nosc.root, 4, 0x1000n, 0x5000, { snoop: true });
    expect(fault(nosc.walk(0x1000n))).toMatchObject({ kind: "reserved", level: 1 });
  });

  it("[VTD-SS-4] bits above HAW and IW are reserved, ignored bits are not", () => {
    const { mem, t, root, walk } = setup();
    t.mapSs(root, 4, 0x1000n, 0x5000);
    const pte = t.entryAt(root, 4, 0x1000n, 1);
    const good = readU64(mem, pte);
    writeU64(mem, pte, good | (1n << 50n));
    expect(fault(walk(0x1000n)).kind).toBe("reserved");
    writeU64(mem, pte, good | (1n << 62n));
    expect(fault(walk(0x1000n)).kind).toBe("reserved");
    writeU64(mem, pte, good | (1n << 63n) | (1n << 61n) | (1n << 55n) | (7n << 3n) | (1n << 6n) | (3n << 8n));
    expect(walk(0x1000n).ok).toBe(true);
    // Reserved bits do not matter when R = W = 0: the entry is simply not present.
    writeU64(mem, pte, (good & ~3n) | (1n << 50n));
    expect(fault(walk(0x1000n)).kind).toBe("not-present");
  });

  it("[VTD-SS-2] [VTD-SS-3] R = W = 0 is not present; permissions are cumulative", () => {
    const { mem, t, root, walk } = setup();
    t.mapSs(root, 4, 0x1000n, 0x5000, { upper: { 3: encodeSsEntry({ addr: t.alloc(), read: true }) } });
    expect(walk(0x1000n).ok).toBe(true);
    expect(fault(walk(0x1000n, true))).toMatchObject({ kind: "no-write", level: 1 });
    t.mapSs(root, 4, 0x1_0000_0000n, 0x6000, { read: false });
    expect(fault(walk(0x1_0000_0000n))).toMatchObject({ kind: "no-read" });
    expect(walk(0x1_0000_0000n, true).ok).toBe(true);
    // Write-only leaf under a read-only upper level: no cumulative right at all.
    t.mapSs(root, 4, 0x2_0000_0000n, 0x7000, {
      read: false,
      upper: { 3: encodeSsEntry({ addr: t.alloc(), read: true }) },
    });
    expect(fault(walk(0x2_0000_0000n))).toMatchObject({ kind: "not-present", level: 1 });
    const pte = t.entryAt(root, 4, 0x1000n, 1);
    writeU64(mem, pte, readU64(mem, pte) & ~3n);
    expect(fault(walk(0x1000n))).toMatchObject({ kind: "not-present", level: 1, entryAddr: pte });
  });

  it("[VTD-SS-7] a structural fault below wins over a permission fault above; permission faults name the leaf", () => {
    const { mem, t, root, walk } = setup();
    // A read-only PML4E above a leaf that is then made reserved: the reserved leaf is reported.
    t.mapSs(root, 4, 0x1000n, 0x5000, { upper: { 4: encodeSsEntry({ addr: t.alloc(), read: true }) } });
    expect(fault(walk(0x1000n, true))).toMatchObject({ kind: "no-write", level: 1 });
    const pte = t.entryAt(root, 4, 0x1000n, 1);
    writeU64(mem, pte, readU64(mem, pte) | (1n << 50n)); // above HAW 46: reserved
    expect(fault(walk(0x1000n, true))).toMatchObject({ kind: "reserved", level: 1, entryAddr: pte });
  });

  it("[VTD-SS-6] A/D only with SSADE; non-snooped walks fault when an update is needed", () => {
    const off = setup();
    off.t.mapSs(off.root, 4, 0x1000n, 0x5000);
    off.walk(0x1000n, true);
    expect(readU64(off.mem, off.t.entryAt(off.root, 4, 0x1000n, 1)) & 0x300n).toBe(0n);
    const on = setup(4, { ssade: true });
    on.t.mapSs(on.root, 4, 0x1000n, 0x5000);
    expect(on.walk(0x1000n)).toMatchObject({ ok: true, dirty: false });
    expect(readU64(on.mem, on.t.entryAt(on.root, 4, 0x1000n, 3)) & 0x300n).toBe(0x100n);
    expect(readU64(on.mem, on.t.entryAt(on.root, 4, 0x1000n, 1)) & 0x300n).toBe(0x100n);
    on.walk(0x1000n, true);
    expect(readU64(on.mem, on.t.entryAt(on.root, 4, 0x1000n, 1)) & 0x300n).toBe(0x300n);
    expect(readU64(on.mem, on.t.entryAt(on.root, 4, 0x1000n, 2)) & 0x300n).toBe(0x100n);
    const ns = setup(4, { ssade: true, adNonSnooped: true });
    ns.t.mapSs(ns.root, 4, 0x1000n, 0x5000);
    expect(fault(ns.walk(0x1000n))).toMatchObject({ kind: "ad-non-snooped", level: 4 });
  });

  it("[VTD-SS-5] entries outside memory are access errors", () => {
    const mem = new SparseMemory(0x10_0000);
    const p: SecondStageParams = {
      root: 0x20_0000,
      levels: 4,
      inputWidth: 48,
      haw: 46,
      snoopControl: false,
      largePages: { twoMiB: true, oneGiB: true },
      ssade: false,
    };
    expect(fault(walkSecondStage(mem, p, 0, 0, false))).toMatchObject({ kind: "root-access", root: true });
    writeU64(mem, 0x1000, encodeSsEntry({ addr: 0x40_0000, read: true, write: true }));
    expect(fault(walkSecondStage(mem, { ...p, root: 0x1000 }, 0, 0, false))).toMatchObject({
      kind: "entry-access",
      level: 3,
    });
  });

  it("[VTD-SS-5] garbage tables never throw", () => {
    const mem = new SparseMemory(1 << 24);
    let seed = 99;
    const rnd = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed;
    };
    for (let i = 0; i < 64 * 1024; i++) mem.writeU32(i * 4, rnd() & (i % 2 ? 0xf : 0xffffffff));
    for (let i = 0; i < 2000; i++) {
      const r = walkSecondStage(
        mem,
        {
          root: (rnd() % 64) * 4096,
          levels: (3 + (i % 3)) as 3 | 4 | 5,
          inputWidth: 57,
          haw: 20 + (i % 30),
          snoopControl: i % 2 === 0,
          largePages: { twoMiB: i % 3 !== 0, oneGiB: i % 5 !== 0 },
          ssade: i % 4 === 0,
        },
        rnd() & 0x1ffffff,
        rnd(),
        i % 2 === 0,
      );
      expect(typeof r.ok).toBe("boolean");
    }
  });
});
