/**
 * Nested translation (VT-d 5.10 §3.8): a first-stage walk whose FSPTPTR, every table pointer
 * and final output are guest-physical, each translated through a second stage given as a
 * function (the vIOMMU's own walk or a host IOMMU's). Permissions are intersected.
 */
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { entryAddress, tableIndex } from "./address.ts";
import { type FirstStageParams, isCanonical } from "./first-stage.ts";
import { fsMasks } from "./masks.ts";
import { type PagingFault, type PagingResult, pagingFault, type Stage2Translate } from "./types.ts";

export interface NestedParams {
  /** The first stage; its root (FSPTPTR) and every address in its entries are guest-physical. */
  fs: FirstStageParams;
  /** Translates a guest-physical address through the second stage. */
  stage2: Stage2Translate;
  /** min(MGAW, second-stage AGAW): a first-stage entry address at or above 2^gpaWidth faults [VTD-NEST-3]. */
  gpaWidth: number;
  /** PASID entry SSADE: reads of first-stage tables then need second-stage write too [VTD-NEST-5]. */
  ssade: boolean;
}

const A_BIT = 1 << 5;
const D_BIT = 1 << 6;
const EA_BIT = 1 << 10;

const usedGpa = new Float64Array(5);
const usedHpa = new Float64Array(5);
const usedLo = new Float64Array(5);
const usedLevel = new Int8Array(5);
const usedSsW = new Uint8Array(5);

function fromStage2(f: PagingFault, nestedFetch: boolean, root: boolean): PagingFault {
  return { ...f, nestedFetch, root };
}

/**
 * [VTD-NEST-1] Walk the first stage at (hi:lo), fetching every entry through the second stage;
 * then translate the output through the second stage for the request's access.
 */
export function walkNested(
  mem: PhysicalMemory,
  p: NestedParams,
  hi: number,
  lo: number,
  write: boolean,
  priv: boolean,
): PagingResult {
  const fs = p.fs;
  if (!isCanonical(hi, fs.levels)) return pagingFault("first", "non-canonical", 0, -1);
  const masks = fsMasks(fs);
  const size = mem.size;
  const limit = 2 ** p.gpaWidth;
  let level: number = fs.levels;
  let table = fs.root;
  let rw = 1;
  let us = 1;
  let used = 0;
  let eLo = 0;
  let eHi = 0;
  for (;;) {
    const atRoot = level === fs.levels;
    const gpa = table + tableIndex(hi, lo, level) * 8;
    // [VTD-NEST-2] the entry's guest-physical address goes through the second stage.
    const s2 = p.stage2(gpa, false);
    if (!s2.ok) {
      if (s2.kind === "no-read") return pagingFault("first", "nested-no-read", level, gpa, atRoot);
      return fromStage2(s2, true, atRoot);
    }
    if (p.ssade && !s2.ssW) return pagingFault("first", "nested-no-read", level, gpa, atRoot);
    const ea = s2.addr;
    if (ea + 8 > size)
      return pagingFault("first", atRoot ? "root-access" : "entry-access", level, ea, atRoot);
    eLo = mem.readU32(ea);
    eHi = mem.readU32(ea + 4);
    if ((eLo & 1) === 0) return pagingFault("first", "not-present", level, ea);
    const ps = level === 1 ? 0 : (eLo >>> 7) & 1;
    const mi = (level * 2 + ps) * 2;
    if ((eLo & (masks[mi] as number)) !== 0 || (eHi & (masks[mi + 1] as number)) !== 0) {
      return pagingFault("first", "reserved", level, ea);
    }
    const frame = entryAddress(eLo, eHi);
    if (frame >= limit) return pagingFault("first", "nested-beyond-width", level, ea);
    rw &= eLo >>> 1;
    us &= eLo >>> 2;
    usedGpa[used] = gpa;
    usedHpa[used] = ea;
    usedLo[used] = eLo >>> 0;
    usedLevel[used] = level;
    usedSsW[used] = s2.ssW ? 1 : 0;
    used++;
    if (level === 1 || ps === 1) break;
    table = frame;
    level--;
  }
  const leafEa = usedHpa[used - 1] as number;
  const fsW = (rw & 1) === 1;
  const fsU = (us & 1) === 1;
  if (!priv && !fsU) return pagingFault("first", "user-supervisor", level, leafEa);
  if (write && !fsW && (!priv || fs.wpe)) return pagingFault("first", "no-write", level, leafEa);

  // [VTD-NEST-4] the output guest-physical address through the second stage, for the request's access.
  const fsShift = level === 1 ? 12 : level === 2 ? 21 : 30;
  const fsSize = 2 ** fsShift;
  const frame = entryAddress(eLo, eHi);
  const outGpa = frame - (frame % fsSize) + (lo & (fsSize - 1));
  const out = p.stage2(outGpa, write);
  if (!out.ok) return fromStage2(out, false, false);

  // [VTD-NEST-5] A/EA/D updates need second-stage write permission to each entry.
  const aBits = fs.eafe ? A_BIT | EA_BIT : A_BIT;
  for (let i = 0; i < used; i++) {
    const old = usedLo[i] as number;
    const want = (old | aBits | (write && i === used - 1 ? D_BIT : 0)) >>> 0;
    if (want === old) continue;
    const lvl = usedLevel[i] as number;
    if (fs.adNonSnooped) return pagingFault("first", "ad-non-snooped", lvl, usedHpa[i] as number);
    if (usedSsW[i] === 0) {
      return pagingFault("first", "nested-ad-blocked", lvl, usedGpa[i] as number, lvl === fs.levels);
    }
  }
  for (let i = 0; i < used; i++) {
    const old = usedLo[i] as number;
    const want = (old | aBits | (write && i === used - 1 ? D_BIT : 0)) >>> 0;
    if (want === old) continue;
    // The update is a write through the second stage: with SSADE it marks the second-stage leaf dirty.
    if (p.ssade) p.stage2(usedGpa[i] as number, true);
    mem.writeU32(usedHpa[i] as number, want);
  }
  const pageShift = Math.min(fsShift, out.pageShift);
  const pageSize = 2 ** pageShift;
  const base = out.addr - (out.addr % pageSize);
  return {
    ok: true,
    base,
    pageShift,
    addr: out.addr,
    fsW,
    fsU,
    ssR: out.ssR,
    ssW: out.ssW,
    dirty: (write || (eLo & D_BIT) !== 0) && out.dirty,
  };
}
