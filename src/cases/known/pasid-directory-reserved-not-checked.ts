import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import { type KnownDeviation, reasonStandsFor } from "./types.ts";

/**
 * A present PASID-directory entry with reserved bits set (bits 11:2) is not refused with SPD.3: the
 * walk goes on to the PASID table it points to. Tolerated as recorded: the fault then reported is a
 * PASID-entry one (SPT.1–SPT.4) where SPD.3 is due. Should that walk go further (a valid PASID
 * entry behind the bad directory entry), the outcome is not tolerated and the run reports it.
 */
export const pasidDirectoryReservedNotChecked: KnownDeviation = {
  id: "pasid-directory-reserved-not-checked",
  rule: "VTD-PASID-2",
  summary:
    "a present PASID-directory entry with reserved bits set is walked through: the PASID entry's fault (SPT.1–SPT.4) is recorded instead of SPD.3 (0x52)",
  outcome: (_req, _value, resolved) =>
    resolved.kind === "fault" && resolved.reason === S.SPD_3_PASID_DIR_RESERVED
      ? [
          S.SPT_1_PASID_ENTRY_ACCESS,
          S.SPT_2_PASID_ENTRY_NOT_PRESENT,
          S.SPT_3_PASID_ENTRY_RESERVED,
          S.SPT_4_PASID_ENTRY_INVALID,
        ].map((reason) => ({ ...resolved, reason }))
      : [],
  record: reasonStandsFor({
    [S.SPT_1_PASID_ENTRY_ACCESS]: [S.SPD_3_PASID_DIR_RESERVED],
    [S.SPT_2_PASID_ENTRY_NOT_PRESENT]: [S.SPD_3_PASID_DIR_RESERVED],
    [S.SPT_3_PASID_ENTRY_RESERVED]: [S.SPD_3_PASID_DIR_RESERVED],
    [S.SPT_4_PASID_ENTRY_INVALID]: [S.SPD_3_PASID_DIR_RESERVED],
  }),
};
