/**
 * What a DMA may do, as the oracle describes it [ORACLE-OUT-1]: a translation (output page,
 * permissions) or a fault (reason code, whether it is recorded). Each carries an explanation
 * (the entries walked, fresh or cached and since when) for reports.
 */

import type { Used } from "./required-flags.ts";

/** Cumulative rights of a translation; a stage not involved counts as allowing. */
export interface Rights {
  fsW: boolean;
  fsU: boolean;
  ssR: boolean;
  ssW: boolean;
}

export interface TranslationValue {
  kind: "translation";
  /** Output address of the 4 KiB input page's first byte (page-aligned). */
  out: number;
  /** log2 of the translation's page size (12, 21, 30): what a cached entry covers. */
  pageShift: number;
  rights: Rights;
  /** First stage (and nested): WPE of the PASID entry; supervisor requests with SRE. */
  wpe: boolean;
  sre: boolean;
  /** Fault-processing disable of the structures that led here (for permission faults). */
  fpd: boolean;
  /** Scalable or legacy fault codes for the permission faults of this translation. */
  scalable: boolean;
  /** Pass-through or translation disabled: no permission check, no interrupt-range check. */
  identity: boolean;
  stage: "legacy" | "second" | "pass-through" | "first" | "nested" | "untranslated";
  /**
   * A/D update alternative: when page walks do not snoop, a walk that must set A/D faults with this
   * code (VTD-FS-8, VTD-SS-6); the oracle cannot see A/D state, so it permits the fault too.
   */
  adFault?: number;
  /** The A/D fault only for writes: every flag a read needs is set, the leaf's D is not. */
  adFaultWriteOnly?: boolean;
  /**
   * Serves reads only: a write through it needs an A/D update its walk could not make (nested,
   * no second-stage write on a table page, VTD-NEST-5), so the write walk's outcome decides.
   */
  readsOnly?: boolean;
}

/** recorded: "yes" a record must be possible; "no" FPD suppresses it; "either" the sources differ. */
export type Recording = "yes" | "no" | "either";

export interface FaultValue {
  kind: "fault";
  /** Reason code for a read and for a write (they differ only for legacy not-present, VTD-SS-2). */
  reason: { read: number; write: number };
  record: Recording;
  /** Set when the fault applies to one access type only (nested walks differ for reads and writes). */
  access?: "read" | "write";
  /** Scalable mode, a fault met after the PASID entry: its SRE and FPD (a supervisor request faults SPT.6 first). */
  pasidEntry?: { sre: boolean; fpd: boolean };
}

export type OutcomeValue = TranslationValue | FaultValue;

/** One permitted outcome with its explanation. */
export interface Permitted {
  value: OutcomeValue;
  /** Human-readable: levels walked, entry values, fresh or cached (and since which step). */
  explain: string;
  /**
   * [ORACLE-JUDGE-11] The entries every way of reaching this outcome read from memory (and so
   * flagged); absent: none known (another chain's IOTLB value, a shared walk).
   */
  used?: Used;
}

export function valueId(v: OutcomeValue): string {
  if (v.kind === "fault") {
    const pe = v.pasidEntry === undefined ? "" : `${+v.pasidEntry.sre}${+v.pasidEntry.fpd}`;
    return `F${v.reason.read}/${v.reason.write}/${v.record}/${v.access ?? ""}/${pe}`;
  }
  const r = v.rights;
  return `T${v.out}/${v.pageShift}/${+r.fsW}${+r.fsU}${+r.ssR}${+r.ssW}/${+v.wpe}${+v.sre}${+v.fpd}${+v.scalable}${+v.identity}/${v.stage}/${v.adFault ?? ""}${v.adFaultWriteOnly ? "w" : ""}${v.readsOnly ? "/r" : ""}`;
}
