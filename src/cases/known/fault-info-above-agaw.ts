import type { KnownDeviation } from "./types.ts";

/** A fault record's FI keeps input-address bits at and above the largest AGAW. */
export const faultInfoAboveAgaw: KnownDeviation = {
  id: "fault-info-above-agaw",
  rule: "VTD-FAULT-5",
  summary: "a fault record's FI keeps the input-address bits at and above the largest input width (RsvdZ)",
  record: (r, { cfg }) => {
    // The width the oracle masks FI to (ORACLE-JUDGE-5): the largest input width of the unit.
    const bits = Math.max(cfg.mgaw, cfg.fsts ? (cfg.fs5lp ? 57 : 48) : 0);
    const fi = r.fi & ((1n << BigInt(bits)) - 1n);
    return fi === r.fi ? [] : [{ ...r, fi }];
  },
};
