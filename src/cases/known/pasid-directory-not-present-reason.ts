import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/** A PASID-directory entry not present is recorded SPT.1 (0x58) instead of SPD.2 (0x51). */
export const pasidDirectoryNotPresentReason: KnownDeviation = {
  id: "pasid-directory-not-present-reason",
  rule: "VTD-FAULT-2",
  summary: "a PASID-directory entry not present is recorded with 0x58 (SPT.1) instead of SPD.2 (0x51)",
  record: reasonStandsFor({ [S.SPT_1_PASID_ENTRY_ACCESS]: [S.SPD_2_PASID_DIR_NOT_PRESENT] }),
};
