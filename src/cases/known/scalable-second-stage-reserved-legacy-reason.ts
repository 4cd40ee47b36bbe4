import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/** In scalable mode a second-stage entry with a reserved bit set is recorded LSS.2 instead of SSS.3. */
export const scalableSecondStageReservedLegacyReason: KnownDeviation = {
  id: "scalable-second-stage-reserved-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "a scalable-mode second-stage entry with a reserved bit set is recorded with the legacy LSS.2 (0xc) instead of SSS.3 (0x7a)",
  record: reasonStandsFor({ [L.LSS_2_SS_RESERVED]: [S.SSS_3_SS_RESERVED] }),
};
