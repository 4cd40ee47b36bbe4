import { describe, expect, it } from "vitest";
import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import {
  hi32,
  lo32,
  type NestedParams,
  type PagingResult,
  pagingFault,
  type SecondStageParams,
  type Stage2Translate,
  walkNested,
  walkSecondStage,
} from "../../src/paging/index.ts";
import { encodeFsEntry } from "../../src/spec/paging-entry.ts";
import { Tables } from "./tables.ts";

const OFFSET = 0x1000_0000; // stage 2 maps GPA g to HPA g + OFFSET

/** A stage 2 by hand: offset mapping with per-GPA-page rights (default RW). */
function offsetStage2(
  rights: Map<number, { r: boolean; w: boolean }>,
  calls: number[] = [],
): Stage2Translate {
  return (gpa, write) => {
    calls.push(gpa);
    const page = gpa - (gpa % 4096);
    const rw = rights.get(page) ?? { r: true, w: true };
    if (!rw.r && !rw.w) return pagingFault("second", "not-present", 1, 0);
    if (write && !rw.w) return pagingFault("second", "no-write", 1, 0);
    if (!write && !rw.r) return pagingFault("second", "no-read", 1, 0);
    return {
      ok: true,
      base: page + OFFSET,
      pageShift: 12,
      addr: gpa + OFFSET,
      fsW: true,
      fsU: true,
      ssR: rw.r,
      ssW: rw.w,
      dirty: true,
    };
  };
}

function setup(over: Partial<NestedParams> = {}, rights = new Map<number, { r: boolean; w: boolean }>()) {
  const mem = new SparseMemory(1 << 30);
  // The first-stage tables live at GPAs; write them at their HPA (GPA + OFFSET).
  const hostView = new SparseMemory(1 << 30);
  const t = new Tables(hostView, 0x10_0000);
  const root = t.alloc();
  const copy = () => {
    for (let a = 0x10_0000; a < 0x11_0000; a += 4) mem.writeU32(a + OFFSET, hostView.readU32(a));
  };
  const p: NestedParams = {
    fs: { root, levels: 4, haw: 46, fs1gp: true, wpe: false, eafe: false },
    stage2: offsetStage2(rights),
    gpaWidth: 39,
    ssade: false,
    ...over,
  };
  const walk = (iova: bigint, write = false, priv = false): PagingResult =>
    walkNested(mem, p, hi32(iova), lo32(iova), write, priv);
  return { mem, t, root, p, walk, copy, rights };
}

function fault(r: PagingResult) {
  if (r.ok) throw new Error("expected a fault");
  return r;
}

describe("nested walk", () => {
  it("[VTD-NEST-1] fetches every first-stage entry and the output through stage 2", () => {
    const { t, root, walk, copy, mem } = setup();
    t.mapFs(root, 4, 0x1234_5000n, 0x20_0000);
    copy();
    const r = walk(0x1234_5678n);
    expect(r).toMatchObject({ ok: true, addr: 0x20_0678 + OFFSET, pageShift: 12 });
    // A was set in the first-stage entries at their host-physical addresses.
    expect(readU64(mem, root + OFFSET) & 0x20n).toBe(0x20n);
  });

  it("[VTD-NEST-2] a stage-2 read refusal of a table is SFS.6 at the root and SFS.7 below", () => {
    const a = setup();
    a.t.mapFs(a.root, 4, 0x1000n, 0x20_0000);
    a.copy();
    a.rights.set(a.root, { r: false, w: true });
    expect(fault(a.walk(0x1000n))).toMatchObject({
      stage: "first",
      kind: "nested-no-read",
      root: true,
      level: 4,
    });
    a.rights.delete(a.root);
    const pt = a.t.entryAt(a.root, 4, 0x1000n, 1);
    a.rights.set(pt - (pt % 4096), { r: false, w: true });
    expect(fault(a.walk(0x1000n))).toMatchObject({ kind: "nested-no-read", root: false, level: 1 });
  });

  it("[VTD-NEST-2] other stage-2 faults on a table fetch are reported as second-stage faults", () => {
    const a = setup();
    a.t.mapFs(a.root, 4, 0x1000n, 0x20_0000);
    a.copy();
    const pd = a.t.entryAt(a.root, 4, 0x1000n, 2);
    a.rights.set(pd - (pd % 4096), { r: false, w: false });
    expect(fault(a.walk(0x1000n))).toMatchObject({ stage: "second", kind: "not-present", nestedFetch: true });
  });

  it("[VTD-NEST-3] a first-stage address beyond the second stage's width is SFS.5", () => {
    const a = setup();
    a.t.mapFs(a.root, 4, 0x1000n, 0x80_0000_0000);
    a.copy();
    expect(fault(a.walk(0x1000n))).toMatchObject({ stage: "first", kind: "nested-beyond-width", level: 1 });
  });

  it("[VTD-NEST-4] output rights are intersected; the output fault is the request's", () => {
    const a = setup();
    a.t.mapFs(a.root, 4, 0x1000n, 0x20_0000);
    a.copy();
    a.rights.set(0x20_0000, { r: true, w: false });
    expect(a.walk(0x1000n)).toMatchObject({ ok: true, ssW: false, fsW: true });
    expect(fault(a.walk(0x1000n, true))).toMatchObject({
      stage: "second",
      kind: "no-write",
      nestedFetch: false,
    });
    // A supervisor write through a read-only first-stage page (WPE = 0) still needs stage-2 write.
    a.t.mapFs(a.root, 4, 0x2000n, 0x30_0000, { write: false });
    a.copy();
    expect(a.walk(0x2000n, true, true).ok).toBe(true);
    a.rights.set(0x30_0000, { r: true, w: false });
    expect(fault(a.walk(0x2000n, true, true)).kind).toBe("no-write");
    expect(fault(a.walk(0x2000n, true, false))).toMatchObject({ stage: "first", kind: "no-write" });
  });

  it("[VTD-NEST-5] an A/D update without stage-2 write on the table is SFS.8", () => {
    const a = setup();
    a.t.mapFs(a.root, 4, 0x1000n, 0x20_0000);
    a.copy();
    const pt = a.t.entryAt(a.root, 4, 0x1000n, 1);
    a.rights.set(pt - (pt % 4096), { r: true, w: false });
    expect(fault(a.walk(0x1000n))).toMatchObject({ kind: "nested-ad-blocked", level: 1 });
    // Once A is set there, reads need no update and succeed; a write still needs D.
    writeU64(a.mem, pt + OFFSET, readU64(a.mem, pt + OFFSET) | 0x20n);
    a.rights.delete(pt - (pt % 4096));
    a.walk(0x1000n);
    a.rights.set(pt - (pt % 4096), { r: true, w: false });
    expect(a.walk(0x1000n).ok).toBe(true);
    expect(fault(a.walk(0x1000n, true))).toMatchObject({ kind: "nested-ad-blocked", level: 1 });
  });

  it("[VTD-NEST-5] with SSADE a table read needs stage-2 write too", () => {
    const a = setup({ ssade: true });
    a.t.mapFs(a.root, 4, 0x1000n, 0x20_0000);
    a.copy();
    a.rights.set(a.root, { r: true, w: false });
    expect(fault(a.walk(0x1000n))).toMatchObject({ kind: "nested-no-read", root: true });
  });

  it("[VTD-NEST-6] the page size is the smaller of the two stages", () => {
    const a = setup();
    a.t.mapFs(a.root, 4, 0x4000_0000n, 0x20_0000, { leafLevel: 2 });
    a.copy();
    expect(a.walk(0x4001_2345n)).toMatchObject({ ok: true, pageShift: 12, addr: 0x21_2345 + OFFSET });
  });

  it("[VTD-NEST-1] works over a real second-stage walk in the same memory", () => {
    const mem = new SparseMemory(1 << 30);
    const t = new Tables(mem, 0x100_0000);
    const ssRoot = t.alloc();
    const ss: SecondStageParams = {
      root: ssRoot,
      levels: 4,
      inputWidth: 48,
      haw: 46,
      snoopControl: false,
      largePages: { twoMiB: true, oneGiB: true },
      ssade: true,
    };
    // Identity-map GPA 0..8 MiB with 2 MiB pages shifted by 16 MiB.
    for (let g = 0; g < 0x80_0000; g += 0x20_0000)
      t.mapSs(ssRoot, 4, BigInt(g), g + 0x200_0000, { leafLevel: 2 });
    const gTables = new Tables(mem, 0x1000); // GPAs; their HPAs are + 32 MiB
    const fsRoot = gTables.alloc();
    const shadow = new SparseMemory(1 << 30);
    const g = new Tables(shadow, 0x2000);
    g.mapFs(fsRoot, 4, 0x7000_0000n, 0x40_0000, { upper: {} });
    for (let a = 0; a < 0x10000; a += 4) mem.writeU32(a + 0x200_0000, shadow.readU32(a));
    const stage2: Stage2Translate = (gpa, write) => walkSecondStage(mem, ss, 0, gpa, write);
    const p: NestedParams = {
      fs: { root: fsRoot, levels: 4, haw: 46, fs1gp: true, wpe: false, eafe: false },
      stage2,
      gpaWidth: 48,
      ssade: true,
    };
    const r = walkNested(mem, p, 0, 0x7000_0abc, true, false);
    expect(r).toMatchObject({ ok: true, addr: 0x40_0abc + 0x200_0000, pageShift: 12, dirty: true });
    // The first-stage leaf got A and D at its host-physical address.
    const pte = g.entryAt(fsRoot, 4, 0x7000_0000n, 1);
    expect(readU64(mem, pte + 0x200_0000) & 0x60n).toBe(0x60n);
    expect(encodeFsEntry({ addr: 0 })).toBe(1n);
  });
});
