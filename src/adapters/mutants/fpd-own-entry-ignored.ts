/**
 * Bug: FPD is honoured only in entries found valid: a fault in a context or PASID-table entry
 * itself (not present, reserved bits, invalid field) is recorded even when that entry's own FPD
 * bit is set, as if FPD were a field of a usable entry only.
 * Breaks [VTD-CTX-7] (FPD is evaluated irrespective of P; VT-d 5.10 §7.1.1, §9.3, §9.6).
 */
import type { LegacyContextView, PasidView, ScalableContextView } from "../../vtd/entry-views.ts";
import type { Mutant } from "./types.ts";

/** The translator's entry decoders (private in the reference: this is where the bug goes in). */
interface EntryDecoders {
  legacyView(words: readonly bigint[]): LegacyContextView;
  scalableContextView(words: readonly bigint[]): ScalableContextView;
  pasidView(words: readonly bigint[]): PasidView;
}

/** Drop FPD from a view whose own entry faults. */
function ownFpdIgnored<V extends { fault: number; fpd: boolean }>(decode: (w: readonly bigint[]) => V) {
  return (words: readonly bigint[]): V => {
    const v = decode(words);
    return v.fault === 0 ? v : { ...v, fpd: false };
  };
}

export const fpdOwnEntryIgnored: Mutant = {
  id: "fpd-own-entry-ignored",
  title: "a fault in a context or PASID entry recorded despite that entry's own FPD",
  layer: "viommu",
  rules: ["VTD-CTX-7"],
  hooks: {
    platform(vm) {
      const t = vm.viommu.translator as unknown as EntryDecoders;
      t.legacyView = ownFpdIgnored(t.legacyView.bind(t));
      t.scalableContextView = ownFpdIgnored(t.scalableContextView.bind(t));
      t.pasidView = ownFpdIgnored(t.pasidView.bind(t));
    },
  },
};
