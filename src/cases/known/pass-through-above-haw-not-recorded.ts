import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { translationType } from "./translation-type.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A pass-through request (legacy TT = 10b, or a scalable-mode PASID entry with PGTT = 100b) at an
 * address beyond the address width is aborted without a fault record or FSTS.PPF: LGN.1 (0x4) or
 * SGN.4 (0x83), recorded faults, never show. Translated requests beyond the width are recorded.
 */
export const passThroughAboveHawNotRecorded: KnownDeviation = {
  id: "pass-through-above-haw-not-recorded",
  rule: "VTD-FAULT-6",
  summary:
    "a pass-through request (legacy TT 10b, scalable PGTT 100b) beyond the address width is aborted without a fault record or FSTS.PPF (LGN.1 0x4 / SGN.4 0x83)",
  unrecorded: (req, f, ctx) => {
    // SGN.4 is the pass-through width fault itself (Table 30), whichever context entry was used,
    // a cached one included; LGN.1 also ends second-stage walks, so there the current tables say.
    if (f.reason === S.SGN_4_ABOVE_HAW) return true;
    if (f.reason !== L.LGN_1_ADDRESS_BEYOND_WIDTH) return false;
    const t = translationType(ctx, req.sid, req.pasid);
    return t.tt === 2;
  },
};
