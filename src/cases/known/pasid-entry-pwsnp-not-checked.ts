import { ScalableFault as S } from "../../spec/fault-reasons.ts";
import { pasidEntryAddress, pasidEntryWord } from "./translation-type.ts";
import type { KnownDeviation } from "./types.ts";

const PWSNP = 1n << 23n;

/**
 * PWSNP (bit 87, word 1 bit 23) set in a PASID entry of a unit without ECAP.SMPWCS is a reserved
 * bit (SPT.3, VTD-PASID-4), but the entry is used: the walk goes on and whatever fault it meets is
 * recorded. Tolerated as recorded, from the entry itself: a record of a request whose PASID entry
 * has PWSNP set without SMPWCS may stand for SPT.3. Should the walk complete, the translation is
 * not tolerated and the run reports it.
 */
export const pasidEntryPwsnpNotChecked: KnownDeviation = {
  id: "pasid-entry-pwsnp-not-checked",
  rule: "VTD-PASID-4",
  summary:
    "PWSNP set in a PASID entry of a unit without ECAP.SMPWCS is not refused with SPT.3 (0x5A): the walk goes on and records the fault it meets there",
  record: (r, ctx) => {
    if (ctx.cfg.smpwcs || r.fr === S.SPT_3_PASID_ENTRY_RESERVED) return [];
    const at = pasidEntryAddress(ctx, r.sid, r.pp ? r.pv : undefined);
    if (at === undefined || (pasidEntryWord(ctx, at, 1) & PWSNP) === 0n) return [];
    return [{ ...r, fr: S.SPT_3_PASID_ENTRY_RESERVED }];
  },
};
