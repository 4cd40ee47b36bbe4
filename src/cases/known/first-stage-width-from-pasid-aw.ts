import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/** First-stage input is sized by the PASID entry's AW: 30 + 9·AW bits. */
const QEMU_AW0_WIDTH = 30n;

/** First-stage walk faults (SFS.1-SFS.10): met only after the input-width check QEMU makes first. */
const FIRST_STAGE_WALK = new Set<number>([
  S.SFS_1_FS_ENTRY_ACCESS,
  S.SFS_2_FS_NOT_PRESENT,
  S.SFS_3_FS_RESERVED,
  S.SFS_4_FSPTPTR_ACCESS,
  S.SFS_5,
  S.SFS_6,
  S.SFS_7,
  S.SFS_8,
  S.SFS_9_AD_NON_SNOOPED,
  S.SFS_10_AD_FAILED,
]);

/**
 * A first-stage (or nested) request whose input address is not canonical at 30 bits faults SGN.1
 * (non-canonical), recorded, instead of its translation or its first-stage walk fault. Without
 * ECAP.SSTS the AW field is reserved, so every first-stage entry has AW = 0 and the deviant width is
 * exactly 30 bits; with SSTS the relaxation does not apply.
 */
export const firstStageWidthFromPasidAw: KnownDeviation = {
  id: "first-stage-width-from-pasid-aw",
  rule: "VTD-PASID-8",
  summary:
    "a first-stage request at a canonical address at or above 2^29 faults SGN.1 (0x80): the input width is taken from the PASID entry's AW (0)",
  outcome: (req, value, resolved, { cfg }) => {
    if (cfg.ssts) return [];
    const firstStage =
      value.kind === "translation"
        ? value.stage === "first" || value.stage === "nested"
        : resolved.kind === "fault" && FIRST_STAGE_WALK.has(resolved.reason);
    if (!firstStage) return [];
    const top = BigInt.asIntN(64, req.iova) >> (QEMU_AW0_WIDTH - 1n);
    if (top === 0n || top === -1n) return [];
    const record = value.kind === "translation" ? (value.fpd ? "no" : "yes") : value.record;
    return [{ kind: "fault", reason: S.SGN_1_NON_CANONICAL, record }];
  },
};
