import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A present context entry with a reserved bit set and FPD = 1 faults (SCT.3 / LCT.3) and the fault
 * is recorded, although FPD of the entry the fault is met in suppresses it (VTD-CTX-7, ORACLE-WALK-1:
 * §7.1.1 "must not report the fault to software"). Composes with the legacy-reason finding.
 */
export const contextReservedRecordedDespiteFpd: KnownDeviation = {
  id: "context-reserved-recorded-despite-fpd",
  rule: "VTD-CTX-7",
  summary:
    "a context entry with a reserved bit set and FPD = 1: its reserved-bit fault (SCT.3 / LCT.3) is recorded although FPD suppresses it",
  outcome: (_req, _value, resolved) =>
    resolved.kind === "fault" &&
    resolved.record === "no" &&
    (resolved.reason === S.SCT_3_CONTEXT_RESERVED || resolved.reason === L.LCT_3_CONTEXT_RESERVED)
      ? [{ ...resolved, record: "yes" }]
      : [],
};
