import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/** In scalable mode a context entry not present is recorded LCT.2 instead of SCT.2. */
export const scalableContextNotPresentLegacyReason: KnownDeviation = {
  id: "scalable-context-not-present-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "a scalable-mode context entry not present is recorded with the legacy LCT.2 (0x2) instead of SCT.2 (0x41)",
  record: reasonStandsFor({ [L.LCT_2_CONTEXT_NOT_PRESENT]: [S.SCT_2_CONTEXT_NOT_PRESENT] }),
};
