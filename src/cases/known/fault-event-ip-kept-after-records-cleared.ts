import type { KnownDeviation } from "./types.ts";

/**
 * FECTL.IP, set by a recorded fault while IM = 1, stays set after software clears the fault
 * records' F fields and PPF reads clear; §11.4.7.2 clears it then ("software clearing the Fault
 * (F) field in all the Fault Recording registers with faults, causing the PPF field ... to be
 * evaluated as Clear"). It clears on a write of FSTS or when IM is cleared.
 */
export const faultEventIpKeptAfterRecordsCleared: KnownDeviation = {
  id: "fault-event-ip-kept-after-records-cleared",
  rule: "VTD-FAULT-9",
  summary:
    "FECTL.IP stays set after software clears every fault record's F (PPF clear); it clears only on an FSTS write or when IM is cleared",
  keepsFaultEventIp: true,
};
