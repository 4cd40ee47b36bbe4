/**
 * Known deviations the guest generators can steer around [QEMU-AVOID-1]. A model lists finding
 * ids in `describe().limits.avoid` (for QEMU: `--adapter qemu:avoid=ID+ID`); each id here says
 * what the generators then leave out, so a long run is not stopped again and again by the same
 * recorded finding. Nothing is avoided unless asked, and the model names what it avoids in its
 * version string, which every report prints.
 */
import type { ModelDescription } from "../contract/types.ts";

const FULL_RIGHTS_ONLY =
  "mappings and upper entries the commands write grant read and write (no read-only or write-only ones)";

/** Finding id → what the generators do instead while it is avoided. */
export const AVOIDABLE: Readonly<Record<string, string>> = {
  "wait-descriptor-without-sw-or-if":
    "generated wait descriptors set IF (ICS.IWC, interrupt masked), so none has SW = IF = 0",
  "fault-info-above-agaw": "arbitrary DMA addresses stay below 2^39, inside every address width",
  "first-stage-width-from-pasid-aw": "no platform offers first-stage translation",
  "scalable-root-not-present-legacy-reason": "platforms are in legacy mode only",
  "scalable-write-fault-legacy-reason": "platforms are in legacy mode only",
  "pasid-directory-not-present-reason": "platforms are in legacy mode only",
  "cached-read-only-write-not-recorded": FULL_RIGHTS_ONLY,
  "cached-write-only-read-not-recorded": FULL_RIGHTS_ONLY,
};

/** What the avoided findings ask of generated platforms. */
export interface AvoidPlatform {
  legacyOnly: boolean;
  noFirstStage: boolean;
}

export function avoidPlatform(avoid: AvoidSet): AvoidPlatform {
  return {
    legacyOnly: [
      "scalable-root-not-present-legacy-reason",
      "scalable-write-fault-legacy-reason",
      "pasid-directory-not-present-reason",
    ].some((id) => avoid.has(id)),
    noFirstStage: avoid.has("first-stage-width-from-pasid-aw"),
  };
}

export type AvoidSet = ReadonlySet<string>;

/** The ids a model asks to avoid; an id no generator knows is an error, never ignored. */
export function avoidSet(d: ModelDescription): AvoidSet {
  const ids = d.limits?.avoid ?? [];
  const unknown = ids.filter((id) => !(id in AVOIDABLE));
  if (unknown.length > 0)
    throw new Error(
      `cannot avoid ${unknown.join(", ")}: the generators know how to avoid only ${Object.keys(AVOIDABLE).join(", ")}`,
    );
  return new Set(ids);
}

export const WAIT_WITHOUT_SIGNAL = "wait-descriptor-without-sw-or-if";
export const FI_ABOVE_AGAW = "fault-info-above-agaw";

/** Whether the generators must keep to read/write mappings (accesses a cached right would refuse). */
export function fullRightsOnly(avoid: AvoidSet): boolean {
  return avoid.has("cached-read-only-write-not-recorded") || avoid.has("cached-write-only-read-not-recorded");
}
