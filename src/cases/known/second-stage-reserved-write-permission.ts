import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A write through a second-stage entry (seen at the PDE level: 2 MiB) with a reserved bit set and
 * W = 0 is recorded as the write-permission fault instead of the reserved-bit fault: the write
 * permission is checked before the reserved bits.
 */
export const secondStageReservedWritePermission: KnownDeviation = {
  id: "second-stage-reserved-write-permission",
  rule: "VTD-SS-4",
  summary:
    "a write through a second-stage entry (PDE level) with a reserved bit set and W = 0 is recorded as LGN.2 / SGN.6 (no write) instead of LSS.2 / SSS.3 (reserved bit)",
  // Only writes (T1 = 0): the deviant reason is the write-permission one.
  record: (r) =>
    r.t1
      ? []
      : r.fr === L.LGN_2_NO_WRITE
        ? [{ ...r, fr: L.LSS_2_SS_RESERVED }]
        : r.fr === S.SGN_6_NO_WRITE
          ? [{ ...r, fr: S.SSS_3_SS_RESERVED }]
          : [],
};
