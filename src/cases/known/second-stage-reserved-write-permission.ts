import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A write through a second-stage entry (seen at the PDE level: 2 MiB) with a reserved bit set and
 * W = 0 is recorded as the write-permission fault instead of the reserved-bit fault: the permission
 * is checked before the reserved bits. Reads through such an entry with R = 0 likewise (LGN.3).
 */
export const secondStageReservedWritePermission: KnownDeviation = {
  id: "second-stage-reserved-write-permission",
  rule: "VTD-SS-4",
  summary:
    "an access through a second-stage entry with a reserved bit set and without its permission (W = 0 for a write, R = 0 for a read) is recorded as the permission fault (LGN.2 / LGN.3, SGN.6 / SGN.7) instead of LSS.2 / SSS.3 (reserved bit)",
  // The deviant reason is the permission one of the record's own access type (T1 = 1: a read).
  record: (r) => {
    const perm = r.t1 ? [L.LGN_3_NO_READ, S.SGN_7_NO_READ] : [L.LGN_2_NO_WRITE, S.SGN_6_NO_WRITE];
    if (r.fr === perm[0]) return [{ ...r, fr: L.LSS_2_SS_RESERVED }];
    if (r.fr === perm[1]) return [{ ...r, fr: S.SSS_3_SS_RESERVED }];
    return [];
  },
};
