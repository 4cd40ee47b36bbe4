/**
 * A known deviation as a run tolerates it [HARNESS-KNOWN-1]: the oracle's relaxation hook
 * (ORACLE-TOL-1) with the rule it breaks and what the model does instead. One module per
 * deviation, listed in index.ts.
 */
import type { Relaxation } from "../../oracle/index.ts";
import type { FaultRecord } from "../../spec/fault-record.ts";

export interface KnownDeviation extends Relaxation {
  /** The rule the deviation breaks. */
  readonly rule: string;
  /** What the model does instead, in one sentence. */
  readonly summary: string;
}

/**
 * A record relaxation that puts a deviant reason code right: `codes` maps each reason a model
 * records to the reasons the specification gives for the same fault.
 */
export function reasonStandsFor(
  codes: Readonly<Record<number, readonly number[]>>,
): (r: FaultRecord) => FaultRecord[] {
  return (r) => (codes[r.fr] ?? []).map((fr) => ({ ...r, fr }));
}
