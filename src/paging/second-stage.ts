/**
 * Second-stage walk (VT-d 5.10 §3.7, §9.8): 3-, 4- or 5-level EPT-style tables, in one memory.
 * Hot path: entries are read as 32-bit halves; no bigint and no allocation but the result.
 */
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { entryAddress, pageFrame, tableIndex } from "./address.ts";
import { ssMasks } from "./masks.ts";
import {
  type PagingResult,
  PERM_SS_R,
  PERM_SS_W,
  pagingFault,
  type WalkStart,
  type WalkTrace,
} from "./types.ts";

/** Walk parameters; treat an object as immutable once walked with (masks are memoized by identity). */
export interface SecondStageParams {
  /** SSPTPTR: address of the top table. */
  root: number;
  /** 3, 4 or 5 levels (AW + 2). */
  levels: 3 | 4 | 5;
  /** Input addresses above 2^inputWidth - 1 fault: min(MGAW, AGAW) [VTD-SS-1]. */
  inputWidth: number;
  /** Host address width: entry bits 51:haw are reserved [VTD-SS-4]. */
  haw: number;
  /** ECAP.SC: SNP allowed in leaves. */
  snoopControl: boolean;
  /** CAP.SLLPS. */
  largePages: { twoMiB: boolean; oneGiB: boolean };
  /** PASID entry SSADE: set A on entries used and D on the leaf for writes [VTD-SS-6]. */
  ssade: boolean;
  /** Page walks do not snoop: a needed A/D update faults instead (SSS.5). */
  adNonSnooped?: boolean;
}

const A_BIT = 1 << 8;
const D_BIT = 1 << 9;

const usedAddr = new Float64Array(5);
const usedLo = new Float64Array(5);
const usedLevel = new Int8Array(5);

/** [VTD-SS-1] The input is within 2^width - 1 (width between 33 and 64). */
export function withinWidth(hi: number, width: number): boolean {
  return width >= 64 || hi >>> (width - 32) === 0;
}

/**
 * Translate the input address (hi:lo) for a read or a write. An entry with R = W = 0 ends the
 * walk as not present; reserved bits are checked only in entries with R or W set [VTD-SS-2].
 */
export function walkSecondStage(
  mem: PhysicalMemory,
  p: SecondStageParams,
  hi: number,
  lo: number,
  write: boolean,
  trace?: WalkTrace,
  start?: WalkStart,
): PagingResult {
  if (!withinWidth(hi, p.inputWidth)) return pagingFault("second", "input-beyond-width", 0, -1);
  const masks = ssMasks(p);
  const size = mem.size;
  let level = start === undefined ? p.levels : start.level;
  let table = start === undefined ? p.root : start.table;
  let r = start === undefined ? 1 : start.perms & PERM_SS_R ? 1 : 0;
  let w = start === undefined ? 1 : start.perms & PERM_SS_W ? 1 : 0;
  const fromRoot = start === undefined;
  if (trace !== undefined) trace.count = 0;
  // The entries used are recorded only when A/D flags will be updated (SSADE).
  const recordUsed = p.ssade;
  let used = 0;
  let ea = 0;
  let eLo = 0;
  let eHi = 0;
  for (;;) {
    ea = table + tableIndex(hi, lo, level) * 8;
    if (ea + 8 > size) {
      const atRoot = fromRoot && level === p.levels;
      return pagingFault("second", atRoot ? "root-access" : "entry-access", level, ea, atRoot);
    }
    eLo = mem.readU32(ea);
    eHi = mem.readU32(ea + 4);
    if ((eLo & 3) === 0) return pagingFault("second", "not-present", level, ea);
    const ps = level === 1 ? 0 : (eLo >>> 7) & 1;
    const mi = (level * 2 + ps) * 2;
    if ((eLo & (masks[mi] as number)) !== 0 || (eHi & (masks[mi + 1] as number)) !== 0) {
      return pagingFault("second", "reserved", level, ea);
    }
    r &= eLo;
    w &= eLo >>> 1;
    if (recordUsed) {
      usedAddr[used] = ea;
      usedLo[used] = eLo >>> 0;
      usedLevel[used] = level;
      used++;
    }
    if (level === 1 || ps === 1) break;
    table = entryAddress(eLo, eHi);
    if (trace !== undefined) {
      const i = trace.count++;
      trace.level[i] = level;
      trace.next[i] = table;
      trace.perms[i] = (r & 1 ? PERM_SS_R : 0) | (w & 1 ? PERM_SS_W : 0);
    }
    level--;
  }
  const leafAddr = ea;
  const ssR = (r & 1) === 1;
  const ssW = (w & 1) === 1;
  // [VTD-SS-3] cumulative rights: none at all is "not present" (SSS.2), else the request's own.
  if (!ssR && !ssW) return pagingFault("second", "not-present", level, leafAddr);
  if (write && !ssW) return pagingFault("second", "no-write", level, leafAddr);
  if (!write && !ssR) return pagingFault("second", "no-read", level, leafAddr);
  if (p.ssade) {
    // [VTD-SS-6] A on every entry used, D on the leaf for a write.
    for (let i = 0; i < used; i++) {
      const old = usedLo[i] as number;
      if ((old | A_BIT | (write && i === used - 1 ? D_BIT : 0)) >>> 0 !== old && p.adNonSnooped) {
        return pagingFault("second", "ad-non-snooped", usedLevel[i] as number, usedAddr[i] as number);
      }
    }
    for (let i = 0; i < used; i++) {
      const old = usedLo[i] as number;
      const want = (old | A_BIT | (write && i === used - 1 ? D_BIT : 0)) >>> 0;
      if (want !== old) mem.writeU32(usedAddr[i] as number, want);
    }
  }
  const pageShift = level === 1 ? 12 : level === 2 ? 21 : 30;
  const base = pageFrame(eLo, eHi, pageShift);
  return {
    ok: true,
    base,
    pageShift,
    addr: base + (lo & ((1 << pageShift) - 1)),
    fsW: true,
    fsU: true,
    ssR,
    ssW,
    dirty: !p.ssade || write || (eLo & D_BIT) !== 0,
  };
}
