/**
 * Near misses for host-device compatibility: a host that covers the vIOMMU in every respect but
 * (usually) one, so each check of VMM-COMPAT-1 .. 11 is the one that must refuse in a fair share
 * of cases. Independent random capabilities reach a late check (FS1GP needs scalable mode, first
 * stage, an iommufd backend and an Intel host before it is asked) only now and then; a VMM that
 * forgets it would survive most runs.
 */
import fc from "fast-check";
import type { HostIommuConfig, ModelDescription, VIommuConfig } from "../contract/types.ts";
import { configProblems } from "../contract/viommu-capabilities.ts";
import { coveringHostIommuArb, HOST_AW_BITS, HOST_PASID_BITS } from "./host-caps.ts";
import type { HostSide } from "./host-devices.ts";

/** The check a near miss breaks, in the order of VMM-COMPAT-1 .. 9, then caching mode; or none. */
export const NEAR_MISSES = [
  "none",
  "aw-bits",
  "backend",
  "iommu-type",
  "fs1gp",
  "bridge",
  "nesting",
  "pasid-width",
  "fl5lp",
  "supervisor",
  "extended-accessed",
  "caching-mode",
] as const;
export type NearMiss = (typeof NEAR_MISSES)[number];

/** The checks asked only of a scalable-mode vIOMMU with first-stage tables: backend .. extended-accessed. */
const FIRST_STAGE_ONLY: ReadonlySet<NearMiss> = new Set(
  NEAR_MISSES.slice(NEAR_MISSES.indexOf("backend"), NEAR_MISSES.indexOf("extended-accessed") + 1),
);

export interface NearMissCase {
  viommu: VIommuConfig;
  iommu: HostIommuConfig;
  host: HostSide;
  /** What was broken; "none" when the break could not apply (the host then covers all). */
  broken: NearMiss;
}

/** The vIOMMU made to ask what `miss` breaks, when the model can offer it; undefined otherwise. */
function askFor(v: VIommuConfig, miss: NearMiss, d: ModelDescription): VIommuConfig | undefined {
  const s = d.supports;
  let w: VIommuConfig = { ...v };
  if (FIRST_STAGE_ONLY.has(miss)) {
    if (!s.scalable || !s.firstStage) return undefined;
    w = { ...w, scalable: true, firstStage: true, nested: false };
  }
  if (miss === "fs1gp") w.fs1gp = true;
  if (miss === "fl5lp") w.fl5lp = true;
  if (miss === "supervisor") w.supervisorRequests = true;
  if (miss === "extended-accessed") w.extendedAccessed = true;
  if (miss === "pasid-width") {
    if (!s.pasidRequests) return undefined;
    w.pasidBits = Math.max(w.pasidBits, 8);
  }
  if (miss === "aw-bits" && w.awBits <= (HOST_AW_BITS[0] as number)) return undefined;
  if (miss === "caching-mode") {
    if (!s.cachingMode.includes(false)) return undefined;
    w.cachingMode = false;
  }
  // Caching mode is the last check: every other near miss (and none) keeps it on, so it passes.
  if (miss !== "caching-mode" && s.cachingMode.includes(true)) w.cachingMode = true;
  return configProblems(w).length === 0 ? w : undefined;
}

/** The covering host and host side with the one thing `miss` names taken away. */
function breakHost(h: HostIommuConfig, side: HostSide, v: VIommuConfig, miss: NearMiss) {
  const iommu = { ...h };
  const host = { ...side, iommufd: true, behindBridge: false };
  if (miss === "aw-bits") iommu.awBits = Math.max(...HOST_AW_BITS.filter((a) => a < v.awBits));
  if (miss === "backend") host.iommufd = false;
  if (miss === "iommu-type") iommu.kind = "other";
  if (miss === "fs1gp") iommu.fs1gp = false;
  if (miss === "bridge") host.behindBridge = true;
  if (miss === "nesting") iommu.nesting = false;
  if (miss === "pasid-width") iommu.pasidBits = Math.max(...HOST_PASID_BITS.filter((p) => p < v.pasidBits));
  if (miss === "fl5lp") iommu.fl5lp = false;
  if (miss === "supervisor") iommu.supervisorRequests = false;
  if (miss === "extended-accessed") iommu.extendedAccessed = false;
  return { iommu, host };
}

/** A vIOMMU from `viommus`, a host that covers it, and one check of `misses` (or none) broken. */
export function nearMissArb(
  d: ModelDescription,
  viommus: fc.Arbitrary<VIommuConfig>,
  side: fc.Arbitrary<HostSide>,
  misses: readonly NearMiss[] = NEAR_MISSES,
): fc.Arbitrary<NearMissCase> {
  return fc.tuple(viommus, fc.constantFrom(...misses), side).chain(([v0, miss, s]) => {
    const asked = askFor(v0, miss, d);
    const v = asked ?? askFor(v0, "none", d) ?? v0;
    const broken: NearMiss = asked === undefined ? "none" : miss;
    return coveringHostIommuArb("h0", v).map((h) => ({ viommu: v, broken, ...breakHost(h, s, v, broken) }));
  });
}
