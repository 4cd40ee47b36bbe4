/**
 * Results of the shared walkers. Faults are abstract kinds, not reason codes: the vIOMMU maps
 * them with the vocabulary's mapping (src/spec/fault-reasons.ts), the host IOMMU to its own codes.
 */
import type {
  FirstStageFaultKind,
  SecondStageFaultKind,
  WalkFault,
  WalkFaultKind,
} from "../spec/fault-reasons.ts";

/** The fault kinds of the vocabulary (src/spec/fault-reasons.ts), by stage. */
export type PagingFaultKind = WalkFaultKind;

export type PagingFault = WalkFault & {
  ok: false;
  /** Level of the entry involved (5..1), or 0 when the fault precedes any entry. */
  level: number;
  /** Physical address of the entry involved, or -1. */
  entryAddr: number;
  /**
   * Nested only: the fault occurred in the second-stage walk done to fetch or update a
   * first-stage table entry (true), or the final output (false). `root` tells whether the
   * first-stage access was to the FSPTPTR table.
   */
  nestedFetch?: boolean;
  /** The access was to the table referenced by the root pointer (FSPTPTR / SSPTPTR). */
  root?: boolean;
};

/**
 * A successful translation. Permissions are the cumulative bits of the walk, so a cached copy
 * can be re-checked for another request with `permits` (a stage not involved counts as allowing).
 */
export interface PagingTranslation {
  ok: true;
  /** Output page base (aligned to 2^pageShift). */
  base: number;
  /** 12, 21 or 30. */
  pageShift: number;
  /** Output address of the input address (base + offset). */
  addr: number;
  /** First stage: AND of R/W over the walk. */
  fsW: boolean;
  /** First stage: AND of U/S over the walk. */
  fsU: boolean;
  /** Second stage: AND of R and of W over the walk. */
  ssR: boolean;
  ssW: boolean;
  /** The leaf's dirty flag is set (or dirty tracking does not apply): a write needs no A/D update. */
  dirty: boolean;
}

export type PagingResult = PagingTranslation | PagingFault;

/**
 * [VTD-FS-6] [VTD-SS-3] [VTD-NEST-4] Whether a translation's permissions allow a request.
 * Supervisor requests ignore U/S and, without WPE, the first-stage R/W; the second stage applies to all.
 */
export function permits(
  t: Pick<PagingTranslation, "fsW" | "fsU" | "ssR" | "ssW">,
  write: boolean,
  priv: boolean,
  wpe: boolean,
): boolean {
  if (write) return t.ssW && (priv ? !wpe || t.fsW : t.fsU && t.fsW);
  return t.ssR && (priv || t.fsU);
}

/** A second stage as the nested walker sees it: translate a guest-physical address. */
export type Stage2Translate = (gpa: number, write: boolean) => PagingResult;

export function pagingFault(
  stage: "first",
  kind: FirstStageFaultKind,
  level: number,
  entryAddr: number,
  root?: boolean,
): PagingFault;
export function pagingFault(
  stage: "second",
  kind: SecondStageFaultKind,
  level: number,
  entryAddr: number,
  root?: boolean,
): PagingFault;
export function pagingFault(
  stage: "first" | "second",
  kind: WalkFaultKind,
  level: number,
  entryAddr: number,
  root = false,
): PagingFault {
  return { ok: false, stage, kind, level, entryAddr, root } as PagingFault;
}

/**
 * Optional record of the non-leaf entries a walk used (for paging-structure caches).
 * Preallocate one and pass it to every walk: the walkers write into it, never allocate.
 */
export class WalkTrace {
  /** Number of non-leaf entries recorded, top first. */
  count = 0;
  readonly level = new Int8Array(5);
  /** Address of the table the entry points to. */
  readonly next = new Float64Array(5);
  /** Cumulative permissions after the entry (bit 0 fsW, 1 fsU, 2 ssR, 3 ssW). */
  readonly perms = new Uint8Array(5);
}

/** Where a walk starts when a paging-structure cache supplied the upper levels. */
export interface WalkStart {
  /** Level of the table to read first. */
  level: number;
  /** Address of that table. */
  table: number;
  /** Cumulative permissions of the entries above (bits as in WalkTrace.perms). */
  perms: number;
}

export const PERM_FS_W = 1;
export const PERM_FS_U = 2;
export const PERM_SS_R = 4;
export const PERM_SS_W = 8;
