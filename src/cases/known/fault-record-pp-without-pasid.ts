import type { KnownDeviation } from "./types.ts";

/** Without ECAP.PASID a record of a request without PASID carries PP = 1 (PV 0); PP is RsvdZ there. */
export const faultRecordPpWithoutPasid: KnownDeviation = {
  id: "fault-record-pp-without-pasid",
  rule: "VTD-FAULT-5",
  summary:
    "on a unit without ECAP.PASID a scalable-mode fault record carries PP = 1 (PV 0) for a request without PASID (PP is RsvdZ there)",
  record: (r, { cfg }) => (cfg.pasidBits === 0 && r.pp && r.pv === 0 ? [{ ...r, pp: false }] : []),
};
