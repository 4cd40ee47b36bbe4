import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/** In scalable mode a root entry not present is recorded LRT.2 instead of SRT.2. */
export const scalableRootNotPresentLegacyReason: KnownDeviation = {
  id: "scalable-root-not-present-legacy-reason",
  rule: "VTD-FAULT-2",
  summary:
    "a scalable-mode root entry not present is recorded with the legacy LRT.2 (0x1) instead of SRT.2 (0x39)",
  record: reasonStandsFor({ [L.LRT_2_ROOT_NOT_PRESENT]: [S.SRT_2_ROOT_NOT_PRESENT] }),
};
