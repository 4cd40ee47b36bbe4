import type { KnownDeviation } from "./types.ts";

/** Without ECAP.PASID a record of a request without PASID carries PV = 0xFFFF (PP = 0). */
export const faultRecordPvWithoutPasid: KnownDeviation = {
  id: "fault-record-pv-without-pasid",
  rule: "VTD-FAULT-5",
  summary: "on a unit without ECAP.PASID a fault record carries PV = 0xFFFF with PP = 0 (PV is RsvdZ there)",
  record: (r, { cfg }) => (cfg.pasidBits === 0 && !r.pp && r.pv === 0xffff ? [{ ...r, pv: 0 }] : []),
};
