/**
 * Known deviations the guest generators steer around [QEMU-AVOID-1], for what a relaxation of the
 * oracle cannot express (HARNESS-KNOWN-1 tolerates the rest). A model lists finding ids in
 * `describe().limits.avoid` (for QEMU: `--adapter qemu:avoid=ID+ID`); each id here says what the
 * generators then leave out. Nothing is avoided unless asked, and the model names what it avoids
 * in its version string, which every report prints.
 */
import type { ModelDescription } from "../contract/types.ts";

export const WAIT_WITHOUT_SIGNAL = "wait-descriptor-without-sw-or-if";
export const DEVTLB_WITHOUT_DT = "device-tlb-descriptor-without-dt-accepted";
export const PWSNP_NOT_CHECKED = "pasid-entry-pwsnp-not-checked";

/** Finding id → what the generators do instead while it is avoided. */
export const AVOIDABLE: Readonly<Record<string, string>> = {
  // A relaxation cannot express it: the model stops its queue at the wait (IQE), so every later
  // descriptor, status write and register value differs, not one outcome.
  [WAIT_WITHOUT_SIGNAL]:
    "generated wait descriptors set IF (ICS.IWC, interrupt masked), so none has SW = IF = 0",
  // The same: the model runs on where its queue must stop (no IQE), and the case's recovery differs.
  [DEVTLB_WITHOUT_DT]:
    "queue-behaviour's invalid descriptor is never a (PASID-based) device-TLB invalidation on a unit without ECAP.DT",
  // Its relaxation tolerates the faults such an entry meets, as recorded; a walk that completes
  // through it would need the walk without the reserved-bit check, which no relaxation can give
  // (the oracle's walks are its own): QEMU 7.2 completes it.
  [PWSNP_NOT_CHECKED]:
    "the single-bit edit of a PASID entry flips FPD instead of PWSNP, so no live entry gets PWSNP where it is reserved (arbitrary bytes still may)",
};

export type AvoidSet = ReadonlySet<string>;

/** The ids a model asks to avoid; an id no generator knows is an error, never ignored. */
export function avoidSet(d: ModelDescription): AvoidSet {
  const ids = d.limits?.avoid ?? [];
  const unknown = ids.filter((id) => !(id in AVOIDABLE));
  if (unknown.length > 0)
    throw new Error(
      `cannot avoid ${unknown.join(", ")}: the generators avoid only ${Object.keys(AVOIDABLE).join(", ")}; tolerate the others with --known`,
    );
  return new Set(ids);
}
