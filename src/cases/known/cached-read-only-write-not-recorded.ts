import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/**
 * A write blocked for lack of W is not recorded (no record, no PPF) when it went through a
 * translation an earlier read left cached. The oracle cannot see what a model cached, so any
 * write-permission fault may go unrecorded; its reason, where it is recorded, is still judged.
 */
export const cachedReadOnlyWriteNotRecorded: KnownDeviation = {
  id: "cached-read-only-write-not-recorded",
  rule: "VTD-FAULT-6",
  summary: "a write through a cached read-only translation is blocked without a fault record or FSTS.PPF",
  unrecorded: (req, f) => req.write && (f.reason === L.LGN_2_NO_WRITE || f.reason === S.SGN_6_NO_WRITE),
};
