import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A request through a scalable-mode pass-through PASID entry at an address above the host address
 * width is aborted without a fault record or FSTS.PPF: SGN.4 (0x83), a recorded fault, never shows.
 */
export const passThroughAboveHawNotRecorded: KnownDeviation = {
  id: "pass-through-above-haw-not-recorded",
  rule: "VTD-FAULT-6",
  summary:
    "a request through a scalable-mode pass-through PASID entry above the host address width is aborted without a fault record or FSTS.PPF (SGN.4, 0x83)",
  unrecorded: (_req, f) => f.reason === S.SGN_4_ABOVE_HAW,
};
