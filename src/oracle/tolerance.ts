/**
 * [ORACLE-TOL-1] The hook through which a run tolerates known deviations. A relaxation names one
 * recorded deviation and gives, for one thing the oracle permits, exactly its deviant variant: the
 * same fault with another reason code, the same record with an extra bit, the same fault left
 * unrecorded. The oracle consults relaxations only where its strict judgement fails, and reports
 * each use to `tolerated`; everything else is judged strictly. The relaxations themselves live
 * with the judged cases (src/cases/known/), one module per deviation.
 */
import type { DmaRequest } from "../contract/types.ts";
import type { FaultRecord } from "../spec/fault-record.ts";
import type { RootPointer } from "../spec/root-entry.ts";
import type { OracleConfig } from "./config.ts";
import type { OutcomeValue } from "./outcome.ts";
import type { Resolved } from "./resolve.ts";

export type ResolvedFault = Extract<Resolved, { kind: "fault" }>;

/**
 * What a relaxation may look at besides its arguments: the configuration the oracle judges by, and
 * guest memory and the root pointer as they are now (to tell, say, a pass-through device's request).
 */
export interface DeviationContext {
  readonly cfg: Readonly<OracleConfig>;
  readonly root: RootPointer | undefined;
  read(gpa: number, len: number): Uint8Array;
}

export interface Relaxation {
  /** The deviation's id (a recorded finding, reference-traces/qemu/<id>.json). */
  readonly id: string;
  /**
   * Deviant outcomes a DMA may have instead of `resolved`, one outcome the oracle permits for it
   * (from the permitted value `value`). Consulted when the model's outcome is none of the
   * permitted ones, and for the faults a later fault record may report.
   */
  outcome?(req: DmaRequest, value: OutcomeValue, resolved: Resolved, ctx: DeviationContext): Resolved[];
  /**
   * The conforming records an observed fault record may stand for (the observed one with the
   * deviant field put right). Consulted when the record matches no aborted DMA strictly.
   */
  record?(observed: FaultRecord, ctx: DeviationContext): FaultRecord[];
  /** Whether `fault`, which the DMA `req` must record, may go unrecorded (no record, no PPF). */
  unrecorded?(req: DmaRequest, fault: ResolvedFault, ctx: DeviationContext): boolean;
  /**
   * FECTL.IP, once set, stays set when software clears the fault records (PPF then clear): it
   * clears only when FSTS is written or IM is cleared (the hold ORACLE-JUDGE-10 otherwise ends).
   */
  readonly keepsFaultEventIp?: boolean;
}

/** The relaxations of a run and where their uses are counted. */
export interface Tolerance {
  readonly relaxations: readonly Relaxation[];
  /** One step was judged with relaxation `id`. */
  tolerated(id: string): void;
}
