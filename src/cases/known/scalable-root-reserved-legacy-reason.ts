import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/** In scalable mode a root entry with a reserved bit set is recorded LRT.3 instead of SRT.3. */
export const scalableRootReservedLegacyReason: KnownDeviation = {
  id: "scalable-root-reserved-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "a scalable-mode root entry with a reserved bit set is recorded with the legacy LRT.3 (0xA) instead of SRT.3 (0x3A)",
  record: reasonStandsFor({ [L.LRT_3_ROOT_RESERVED]: [S.SRT_3_ROOT_RESERVED] }),
};
