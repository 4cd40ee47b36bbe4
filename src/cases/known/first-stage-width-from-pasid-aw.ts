import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/** First-stage input is sized by the PASID entry's AW: 30 + 9·AW bits. */
const QEMU_AW0_WIDTH = 30n;

/**
 * A first-stage (or nested) request whose input address is not canonical at 30 bits faults SGN.1
 * (non-canonical), recorded. Without ECAP.SSTS the AW field is reserved, so every first-stage entry
 * has AW = 0 and the deviant width is exactly 30 bits; with SSTS the relaxation does not apply.
 */
export const firstStageWidthFromPasidAw: KnownDeviation = {
  id: "first-stage-width-from-pasid-aw",
  rule: "VTD-PASID-8",
  summary:
    "a first-stage request at a canonical address at or above 2^29 faults SGN.1 (0x80): the input width is taken from the PASID entry's AW (0)",
  outcome: (req, value, resolved, { cfg }) => {
    if (cfg.ssts || value.kind !== "translation" || (value.stage !== "first" && value.stage !== "nested"))
      return [];
    if (resolved.kind === "fault" && resolved.reason === S.SGN_1_NON_CANONICAL) return [];
    const top = BigInt.asIntN(64, req.iova) >> (QEMU_AW0_WIDTH - 1n);
    if (top === 0n || top === -1n) return [];
    return [{ kind: "fault", reason: S.SGN_1_NON_CANONICAL, record: value.fpd ? "no" : "yes" }];
  },
};
