import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/** In scalable mode a context entry with a reserved bit set is recorded LCT.3 instead of SCT.3. */
export const scalableContextReservedLegacyReason: KnownDeviation = {
  id: "scalable-context-reserved-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "a scalable-mode context entry with a reserved bit set is recorded with the legacy LCT.3 (0xb) instead of SCT.3 (0x42)",
  record: reasonStandsFor({ [L.LCT_3_CONTEXT_RESERVED]: [S.SCT_3_CONTEXT_RESERVED] }),
};
