/**
 * First-stage walk (VT-d 5.10 §3.6, §9.7): 4- or 5-level IA-32e-style tables, in one memory.
 * Hot path: entries are read as 32-bit halves; no bigint and no allocation but the result.
 */
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { entryAddress, pageFrame, tableIndex } from "./address.ts";
import { fsMasks } from "./masks.ts";
import {
  type PagingResult,
  PERM_FS_U,
  PERM_FS_W,
  pagingFault,
  type WalkStart,
  type WalkTrace,
} from "./types.ts";

/** Walk parameters; treat an object as immutable once walked with (masks are memoized by identity). */
export interface FirstStageParams {
  /** FSPTPTR: address of the PML4 (4-level) or PML5 (5-level) table. */
  root: number;
  levels: 4 | 5;
  /** Host address width: entry bits 51:haw are reserved [VTD-FS-4]. */
  haw: number;
  /** CAP.FS1GP: 1 GiB pages. */
  fs1gp: boolean;
  /** PASID entry WPE: supervisor writes need R/W = 1 [VTD-FS-6]. */
  wpe: boolean;
  /** PASID entry EAFE: set EA (bit 10) with A [VTD-FS-7]. */
  eafe: boolean;
  /** Page walks do not snoop: a needed A/EA/D update faults instead (SFS.9) [VTD-FS-8]. */
  adNonSnooped?: boolean;
}

const A_BIT = 1 << 5;
const D_BIT = 1 << 6;
const EA_BIT = 1 << 10;

// Entries used by the current walk, for the A/D update pass (no per-walk allocation).
const usedAddr = new Float64Array(5);
const usedLo = new Float64Array(5);
const usedLevel = new Int8Array(5);

/** [VTD-FS-1] The input is canonical for the paging mode: bits 63:N-1 all equal. */
export function isCanonical(hi: number, levels: 4 | 5): boolean {
  const top = levels === 5 ? hi >> 24 : hi >> 15;
  return top === 0 || top === -1;
}

/**
 * Translate the input address (hi:lo) for a read or write at user or supervisor privilege.
 * Structural faults (access, not present, reserved) found during the walk come before
 * permission faults, which are judged on the cumulative rights of the complete walk [VTD-FS-5].
 */
export function walkFirstStage(
  mem: PhysicalMemory,
  p: FirstStageParams,
  hi: number,
  lo: number,
  write: boolean,
  priv: boolean,
  trace?: WalkTrace,
  start?: WalkStart,
): PagingResult {
  if (!isCanonical(hi, p.levels)) return pagingFault("first", "non-canonical", 0, -1);
  const masks = fsMasks(p);
  const size = mem.size;
  let level = start === undefined ? p.levels : start.level;
  let table = start === undefined ? p.root : start.table;
  let rw = start === undefined ? 1 : start.perms & PERM_FS_W ? 1 : 0;
  let us = start === undefined ? 1 : start.perms & PERM_FS_U ? 1 : 0;
  const fromRoot = start === undefined;
  if (trace !== undefined) trace.count = 0;
  let used = 0;
  let eLo = 0;
  let eHi = 0;
  for (;;) {
    const ea = table + tableIndex(hi, lo, level) * 8;
    if (ea + 8 > size) {
      const atRoot = fromRoot && level === p.levels;
      return pagingFault("first", atRoot ? "root-access" : "entry-access", level, ea, atRoot);
    }
    eLo = mem.readU32(ea);
    eHi = mem.readU32(ea + 4);
    if ((eLo & 1) === 0) return pagingFault("first", "not-present", level, ea);
    // PS at levels 4/5 is reserved; the mask for ps = 1 there catches it.
    const ps = level === 1 ? 0 : (eLo >>> 7) & 1;
    const mi = (level * 2 + ps) * 2;
    if ((eLo & (masks[mi] as number)) !== 0 || (eHi & (masks[mi + 1] as number)) !== 0) {
      return pagingFault("first", "reserved", level, ea);
    }
    rw &= eLo >>> 1;
    us &= eLo >>> 2;
    usedAddr[used] = ea;
    usedLo[used] = eLo >>> 0;
    usedLevel[used] = level;
    used++;
    if (level === 1 || ps === 1) break;
    table = entryAddress(eLo, eHi);
    if (trace !== undefined) {
      const i = trace.count++;
      trace.level[i] = level;
      trace.next[i] = table;
      trace.perms[i] = (rw & 1 ? PERM_FS_W : 0) | (us & 1 ? PERM_FS_U : 0);
    }
    level--;
  }
  const fsW = (rw & 1) === 1;
  const fsU = (us & 1) === 1;
  // [VTD-FS-6] access rights on the cumulative bits of the whole walk.
  if (!priv && !fsU) return pagingFault("first", "user-supervisor", level, usedAddr[used - 1] as number);
  if (write && !fsW && (!priv || p.wpe)) {
    return pagingFault("first", "no-write", level, usedAddr[used - 1] as number);
  }
  // [VTD-FS-7] set A (and EA) on every entry used, D on the leaf for a write.
  const aBits = p.eafe ? A_BIT | EA_BIT : A_BIT;
  for (let i = 0; i < used; i++) {
    const old = usedLo[i] as number;
    const want = old | aBits | (write && i === used - 1 ? D_BIT : 0);
    if (want !== old) {
      if (p.adNonSnooped)
        return pagingFault("first", "ad-non-snooped", usedLevel[i] as number, usedAddr[i] as number);
    }
  }
  for (let i = 0; i < used; i++) {
    const old = usedLo[i] as number;
    const want = (old | aBits | (write && i === used - 1 ? D_BIT : 0)) >>> 0;
    if (want !== old) mem.writeU32(usedAddr[i] as number, want);
  }
  const pageShift = level === 1 ? 12 : level === 2 ? 21 : 30;
  const base = pageFrame(eLo, eHi, pageShift);
  const dirty = write || (eLo & D_BIT) !== 0;
  return {
    ok: true,
    base,
    pageShift,
    addr: base + (lo & ((1 << pageShift) - 1)),
    fsW,
    fsU,
    ssR: true,
    ssW: true,
    dirty,
  };
}
