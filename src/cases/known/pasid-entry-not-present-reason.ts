import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/**
 * A PASID entry that is not present (an all-zero entry, as a driver clears it) is recorded with
 * SPT.4 (0x5B, invalid programming: PGTT 000b is checked before P) on 11.1 and with SPT.1 (0x58) on
 * 7.2, instead of SPT.2 (0x59).
 */
export const pasidEntryNotPresentReason: KnownDeviation = {
  id: "pasid-entry-not-present-reason",
  rule: "VTD-PASID-6",
  summary:
    "a PASID entry not present is recorded with 0x5B (SPT.4) on 11.1 and 0x58 (SPT.1) on 7.2 instead of SPT.2 (0x59)",
  record: reasonStandsFor({
    [S.SPT_4_PASID_ENTRY_INVALID]: [S.SPT_2_PASID_ENTRY_NOT_PRESENT],
    [S.SPT_1_PASID_ENTRY_ACCESS]: [S.SPT_2_PASID_ENTRY_NOT_PRESENT],
  }),
};
