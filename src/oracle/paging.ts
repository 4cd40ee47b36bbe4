/**
 * The oracle's step-wise paging walk [ORACLE-WALK-3]: one paging entry at a time, from a table
 * address and the rights accumulated above it, so that a walk can start at the root of the
 * paging structure or at any level a paging-structure cache may supply. A second implementation
 * of VTD-FS-1..6 and VTD-SS-1..5 (the reference's hot-path walkers are src/paging).
 */

import {
  LegacyFault as L,
  legacyWalkReason,
  ScalableFault as S,
  scalableWalkReason,
  type WalkFault,
} from "../spec/fault-reasons.ts";
import {
  decodeFsEntry,
  decodeSsEntry,
  fsReservedBits,
  levelShift,
  type PagingLevel,
  ssReservedBits,
} from "../spec/paging-entry.ts";
import { bit, field, hex, mask } from "../spec/word.ts";
import type { OracleConfig } from "./config.ts";
import type { WordReader } from "./history-memory.ts";
import type { StageKind } from "./keys.ts";
import type { FaultValue, Rights, TranslationValue } from "./outcome.ts";
import { type ContextValue, fault, type PasidValue } from "./structures.ts";

/** How requests of one (context, PASID entry) are translated. */
export interface Setup {
  stage: StageKind;
  scalable: boolean;
  did: number;
  /** PASID tag of cached entries (scalable mode; RID_PASID for requests without PASID). */
  pasidTag?: number;
  fpd: boolean;
  /** Root of the paging structure walked by the oracle (SSPTPTR, or FSPTPTR for first stage / nested). */
  root: number;
  levels: number;
  /** Second stage: input width min(MGAW, AGAW); nested: the second stage's root and levels. */
  ssWidth: number;
  ssRoot: number;
  ssLevels: number;
  wpe: boolean;
  sre: boolean;
  eafe: boolean;
  ssade: boolean;
  pwsnp: boolean;
  explain: string;
}

export const ALL_RIGHTS: Rights = { fsW: true, fsU: true, ssR: true, ssW: true };

/** [ORACLE-WALK-3] Translation setup of a legacy-mode context entry (TT 00b or 10b). */
export function legacySetup(ctx: ContextValue, cfg: OracleConfig): Setup {
  const w0 = ctx.words[0] as bigint;
  const w1 = ctx.words[1] as bigint;
  const aw = field(w1, 2, 0);
  const levels = aw + 2;
  return {
    stage: field(w0, 3, 2) === 2 ? "pass-through" : "legacy",
    scalable: false,
    did: ctx.did,
    fpd: ctx.fpd,
    root: Number(w0 & mask(63, 12)),
    levels,
    ssWidth: Math.min(cfg.mgaw, 12 + 9 * levels),
    ssRoot: Number(w0 & mask(63, 12)),
    ssLevels: levels,
    wpe: false,
    sre: false,
    eafe: false,
    ssade: false,
    pwsnp: true,
    explain: ctx.explain,
  };
}

/** [ORACLE-WALK-3] Translation setup of a scalable-mode PASID entry (PGTT 1..4). */
export function scalableSetup(p: PasidValue, cfg: OracleConfig): Setup {
  const [p0 = 0n, p1 = 0n, p2 = 0n] = p.words;
  const pgtt = field(p0, 8, 6);
  const aw = field(p0, 4, 2);
  const ssLevels = aw + 2;
  const fsLevels = field(p2, 3, 2) === 1 ? 5 : 4;
  const stage: StageKind =
    pgtt === 1 ? "first" : pgtt === 2 ? "second" : pgtt === 3 ? "nested" : "pass-through";
  const fsLike = pgtt === 1 || pgtt === 3;
  return {
    stage,
    scalable: true,
    did: p.did,
    pasidTag: p.pasid,
    fpd: p.fpd,
    root: fsLike ? Number(p2 & mask(63, 12)) : Number(p0 & mask(63, 12)),
    levels: fsLike ? fsLevels : ssLevels,
    ssWidth: Math.min(cfg.mgaw, 12 + 9 * ssLevels),
    ssRoot: Number(p0 & mask(63, 12)),
    ssLevels,
    wpe: bit(p2, 4),
    sre: bit(p2, 0),
    eafe: bit(p2, 7),
    ssade: bit(p0, 9),
    pwsnp: bit(p1, 23),
    explain: p.explain,
  };
}

function rec(s: Setup): "yes" | "no" {
  return s.fpd ? "no" : "yes";
}

/** [ORACLE-WALK-4] Checks on the input address before any paging entry is read. */
export function inputCheck(s: Setup, page: bigint, cfg: OracleConfig): FaultValue | null {
  if (s.stage === "pass-through") {
    if (page >= 2n ** BigInt(cfg.haw))
      return fault(s.scalable ? S.SGN_4_ABOVE_HAW : L.LGN_1_ADDRESS_BEYOND_WIDTH, rec(s));
    return null;
  }
  if (s.stage === "first" || s.stage === "nested") {
    const top = s.levels === 5 ? 56 : 47;
    const high = page >> BigInt(top);
    const ones = (1n << BigInt(64 - top)) - 1n;
    if (high !== 0n && high !== ones) return fault(S.SGN_1_NON_CANONICAL, rec(s));
    return null;
  }
  if (page >> BigInt(s.ssWidth) !== 0n)
    return fault(s.scalable ? S.SGN_5_SS_INPUT_BEYOND_WIDTH : L.LGN_1_ADDRESS_BEYOND_WIDTH, rec(s));
  return null;
}

/** Where a walk continues: the table of `level`, with the rights of the entries above. */
export interface Frontier {
  level: number;
  table: number;
  rights: Rights;
  /** True when this table is the one the root pointer names (access errors differ). */
  atRoot: boolean;
  explain: string;
  /** An entry read above in this walk has a flag to set (A, EA): with PWSNP = 0 it may fault. */
  adNeed?: boolean;
}

/** One entry read: the next table, a leaf, or a fault. `at` is the entry's address, `word` its value. */
export type PagingStep =
  | { kind: "next"; next: Frontier; at: number; word: bigint }
  | { kind: "leaf"; value: TranslationValue; explain: string; at: number; word: bigint }
  | { kind: "fault"; fault: FaultValue; cause: WalkFault; explain: string };

/**
 * [VTD-SS-2] [VTD-SS-4] [VTD-SS-5] [VTD-PASID-9] A walk fault of this setup with its reason codes,
 * from the vocabulary's one mapping (legacy codes depend on the access for a missing right).
 */
export function walkFault(s: Setup, cause: WalkFault): FaultValue {
  if (s.scalable) return fault(scalableWalkReason(cause), rec(s));
  return fault(legacyWalkReason(cause, false), rec(s), legacyWalkReason(cause, true));
}

/**
 * [ORACLE-WALK-3] Read the entry of `f.level` for the input page from memory `mem` and decide:
 * a pointer to the next table (with the rights so far), a leaf translation, or a fault.
 * `reads` collects the word addresses read (the timeline re-walks when one changes).
 */
export function pagingStep(
  mem: WordReader,
  s: Setup,
  f: Frontier,
  page: bigint,
  cfg: OracleConfig,
  reads: Set<number>,
): PagingStep {
  const first = s.stage === "first";
  const level = f.level as PagingLevel;
  const index = Number((page >> BigInt(levelShift(level))) & 0x1ffn);
  const ea = f.table + index * 8;
  const at = `L${level}[${hex(ea)}]`;
  const flt = (
    kind: "root-access" | "entry-access" | "not-present" | "reserved",
    why: string,
  ): PagingStep => {
    const cause: WalkFault = { stage: first ? "first" : "second", kind, root: kind === "root-access" };
    return { kind: "fault", fault: walkFault(s, cause), cause, explain: `${f.explain} ${at}${why}` };
  };
  if (ea + 8 > mem.size) return flt(f.atRoot ? "root-access" : "entry-access", " outside memory");
  reads.add(ea);
  const w = mem.word(ea);
  const shown = `${at}=${hex(w)}`;
  let leaf: boolean;
  let addr: number;
  let rights: Rights;
  if (first) {
    const e = decodeFsEntry(w, level);
    if (!e.present) return flt("not-present", `=${hex(w)} not present`);
    if (fsReservedBits(w, level, { haw: cfg.haw, fs1gp: cfg.fs1gp }) !== 0n)
      return flt("reserved", `=${hex(w)} reserved bits`);
    leaf = e.leaf;
    addr = e.addr;
    rights = { ...f.rights, fsW: f.rights.fsW && e.write, fsU: f.rights.fsU && e.user };
  } else {
    const e = decodeSsEntry(w, level);
    if (!e.present) return flt("not-present", `=${hex(w)} R=W=0`);
    const o = { haw: cfg.haw, snoopControl: cfg.snoopControl, largePages: cfg.ssLarge };
    if (ssReservedBits(w, level, o) !== 0n) return flt("reserved", `=${hex(w)} reserved bits`);
    leaf = e.leaf;
    addr = e.addr;
    rights = { ...f.rights, ssR: f.rights.ssR && e.read, ssW: f.rights.ssW && e.write };
  }
  if (!leaf) {
    return {
      kind: "next",
      next: { level: level - 1, table: addr, rights, atRoot: false, explain: `${f.explain} ${shown}` },
      at: ea,
      word: w,
    };
  }
  const shift = levelShift(level);
  const size = 2 ** shift;
  const base = addr - (addr % size);
  const out = base + Number(page & BigInt(size - 1));
  return {
    kind: "leaf",
    value: translation(s, out, shift, rights),
    explain: `${f.explain} ${shown} -> ${hex(out)}`,
    at: ea,
    word: w,
  };
}

export function translation(s: Setup, out: number, pageShift: number, rights: Rights): TranslationValue {
  return {
    kind: "translation",
    out,
    pageShift,
    rights,
    wpe: s.wpe,
    sre: s.sre,
    fpd: s.fpd,
    scalable: s.scalable,
    identity: s.stage === "pass-through",
    stage: s.stage,
  };
}

/** The top frontier of a setup's paging structure. */
export function rootFrontier(s: Setup): Frontier {
  return { level: s.levels, table: s.root, rights: ALL_RIGHTS, atRoot: true, explain: `${s.explain} ->` };
}
