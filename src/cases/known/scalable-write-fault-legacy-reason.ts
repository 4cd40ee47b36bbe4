import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/**
 * In scalable mode second-stage permission faults are recorded with the legacy reasons: a write
 * without W LGN.2 instead of SGN.6, a read without R (or through an entry with R = W = 0) LGN.3
 * instead of SGN.7 (SSS.2).
 */
export const scalableWriteFaultLegacyReason: KnownDeviation = {
  id: "scalable-write-fault-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "scalable-mode second-stage permission faults are recorded with the legacy LGN.2 (0x5) / LGN.3 (0x6) instead of SGN.6 (0x85) / SGN.7 (0x86) or SSS.2 (0x79)",
  record: reasonStandsFor({
    [L.LGN_2_NO_WRITE]: [S.SGN_6_NO_WRITE],
    [L.LGN_3_NO_READ]: [S.SGN_7_NO_READ, S.SSS_2_SS_NONLEAF_NO_PERMISSION],
  }),
};
