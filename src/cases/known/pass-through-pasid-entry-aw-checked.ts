import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A pass-through PASID entry whose AW the unit does not support (the driver writes AW = 0, which AW
 * does not use for PGTT 100b) makes the DMA abort with a PASID-entry fault (QEMU's 0x58).
 */
export const passThroughPasidEntryAwChecked: KnownDeviation = {
  id: "pass-through-pasid-entry-aw-checked",
  rule: "VTD-PASID-6",
  summary: "a pass-through PASID entry (PGTT 100b) with AW = 0 aborts the DMA with 0x58 (SPT.1)",
  outcome: (_req, value) =>
    value.kind === "translation" && value.stage === "pass-through" && value.scalable
      ? [{ kind: "fault", reason: S.SPT_1_PASID_ENTRY_ACCESS, record: value.fpd ? "no" : "yes" }]
      : [],
};
