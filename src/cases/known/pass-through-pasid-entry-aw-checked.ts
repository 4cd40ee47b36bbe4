import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import { translationType } from "./translation-type.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A pass-through PASID entry whose AW the unit does not support (the driver writes AW = 0, which AW
 * does not use for PGTT 100b) makes the DMA abort with a PASID-entry fault (QEMU's 0x58). The AW
 * check comes first, so a pass-through request beyond the address width gets 0x58 too, recorded,
 * instead of SGN.4. The fault is recorded even where FPD is set in the context entry.
 */
export const passThroughPasidEntryAwChecked: KnownDeviation = {
  id: "pass-through-pasid-entry-aw-checked",
  rule: "VTD-PASID-6",
  summary:
    "a pass-through PASID entry (PGTT 100b) with AW = 0 aborts the DMA with 0x58 (SPT.1), also where the request is beyond the address width (SGN.4 due)",
  outcome: (req, value, resolved, ctx) => {
    if (value.kind === "translation")
      return value.stage === "pass-through" && value.scalable
        ? // The check is made as the context entry is loaded: 7.2 records it even with the context
          // entry's FPD set (whether a PASID entry's FPD stops it is not known: either is allowed).
          [{ kind: "fault", reason: S.SPT_1_PASID_ENTRY_ACCESS, record: value.fpd ? "either" : "yes" }]
        : [];
    const beyondWidth = resolved.kind === "fault" && resolved.reason === S.SGN_4_ABOVE_HAW;
    return beyondWidth && translationType(ctx, req.sid, req.pasid).pgtt === 4
      ? [{ kind: "fault", reason: S.SPT_1_PASID_ENTRY_ACCESS, record: resolved.record }]
      : [];
  },
};
