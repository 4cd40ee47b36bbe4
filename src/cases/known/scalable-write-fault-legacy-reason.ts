import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/**
 * In scalable mode second-stage permission faults are recorded with the legacy reasons: a write
 * without W LGN.2 instead of SGN.6, a read without R LGN.3 instead of SGN.7, and a request through
 * an entry with R = W = 0 the legacy code of its access type (LGN.2 / LGN.3) instead of SSS.2, and
 * an input beyond the second-stage width LGN.1 instead of SGN.5 (7.2).
 */
export const scalableWriteFaultLegacyReason: KnownDeviation = {
  id: "scalable-write-fault-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "scalable-mode second-stage permission faults are recorded with the legacy LGN.2 (0x5) / LGN.3 (0x6) instead of SGN.6 (0x85) / SGN.7 (0x86), or of SSS.2 (0x79) by access type",
  // SSS.2 (R = W = 0) stands behind the legacy code of the record's own access type only.
  record: (r) =>
    reasonStandsFor({
      [L.LGN_2_NO_WRITE]: r.t1 ? [S.SGN_6_NO_WRITE] : [S.SGN_6_NO_WRITE, S.SSS_2_SS_NONLEAF_NO_PERMISSION],
      [L.LGN_3_NO_READ]: r.t1 ? [S.SGN_7_NO_READ, S.SSS_2_SS_NONLEAF_NO_PERMISSION] : [S.SGN_7_NO_READ],
      [L.LGN_1_ADDRESS_BEYOND_WIDTH]: [S.SGN_5_SS_INPUT_BEYOND_WIDTH],
    })(r),
};
