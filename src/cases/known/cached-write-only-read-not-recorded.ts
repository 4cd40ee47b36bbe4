import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { KnownDeviation } from "./types.ts";

/** The mirror of cached-read-only-write-not-recorded: a read-permission fault may go unrecorded. */
export const cachedWriteOnlyReadNotRecorded: KnownDeviation = {
  id: "cached-write-only-read-not-recorded",
  rule: "VTD-FAULT-6",
  summary: "a read through a cached write-only translation is blocked without a fault record or FSTS.PPF",
  unrecorded: (req, f) => !req.write && (f.reason === L.LGN_3_NO_READ || f.reason === S.SGN_7_NO_READ),
};
