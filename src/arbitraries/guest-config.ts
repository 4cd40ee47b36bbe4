/**
 * vIOMMU platform configurations within what an adapter says it supports (ModelDescription) and
 * what a conforming register file can present (src/vtd/capabilities.ts configProblems).
 */
import fc from "fast-check";
import type { ModelDescription, PlatformConfig, VIommuConfig } from "../platform/types.ts";
import { configProblems } from "../vtd/capabilities.ts";

/** Guest RAM of every generated platform: 16 MiB from GPA 0. */
export const GUEST_RAM = 16n << 20n;

/** Device SIDs used by generated platforms: two on bus 0, one in each half of bus 1's devfns. */
export const GUEST_SIDS = [0x0008, 0x0010, 0x0100, 0x01f8] as const;

export interface GuestConfigWants {
  /** Restrict to one mode (default: any the model supports). */
  mode?: "legacy" | "scalable";
  /** Only configurations with first-stage translation (scalable mode). */
  firstStage?: boolean;
  /** Only configurations with PASID support. */
  pasid?: boolean;
}

/** Why no configuration can satisfy `wants` on this model, or null. */
export function guestConfigProblem(d: ModelDescription, wants: GuestConfigWants = {}): string | null {
  const s = d.supports;
  if (s.maxDevices < 1) return "the model takes no devices";
  if (s.awBits.length === 0 || s.cachingMode.length === 0) return "the model supports no address width or CM";
  if (!s.legacy && !s.scalable) return "the model supports neither legacy nor scalable mode";
  if (wants.mode === "legacy" && !s.legacy) return "the model has no legacy mode";
  if ((wants.mode === "scalable" || wants.firstStage || wants.pasid) && !s.scalable)
    return "the model has no scalable mode";
  if (wants.firstStage && !s.firstStage) return "the model has no first-stage translation";
  if (wants.pasid && !s.pasidRequests) return "the model's devices issue no PASID requests";
  if (!s.secondStage && !s.firstStage) return "the model translates with neither stage";
  if (!s.secondStage && wants.mode !== "scalable" && !s.scalable)
    return "legacy mode needs second-stage tables";
  return null;
}

/** vIOMMU options the model supports, consistent by construction. */
export function viommuConfigArb(
  d: ModelDescription,
  wants: GuestConfigWants = {},
): fc.Arbitrary<VIommuConfig> {
  const s = d.supports;
  const modes: boolean[] = [];
  if (s.legacy && s.secondStage && wants.mode !== "scalable" && !wants.firstStage && !wants.pasid)
    modes.push(false);
  if (s.scalable && wants.mode !== "legacy") modes.push(true);
  return fc
    .record({
      scalable: fc.constantFrom(...modes),
      awBits: fc.constantFrom(...s.awBits),
      cachingMode: fc.constantFrom(...s.cachingMode),
      firstStage: wants.firstStage ? fc.constant(true) : s.firstStage ? fc.boolean() : fc.constant(false),
      nested: s.nested ? fc.boolean() : fc.constant(false),
      passThrough: s.passThrough ? fc.boolean() : fc.constant(false),
      pasidBits: wants.pasid
        ? fc.constantFrom(8, 20)
        : s.pasidRequests
          ? fc.constantFrom(0, 8, 20)
          : fc.constant(0),
      snoopControl: fc.boolean(),
      fs1gp: fc.boolean(),
      fl5lp: fc.boolean(),
      twoMiB: fc.boolean(),
      oneGiB: fc.boolean(),
      hawBits: fc.constantFrom(39, 42, 46),
      faultRecords: fc.integer({ min: 1, max: 8 }),
      supervisorRequests: fc.boolean(),
      extendedAccessed: fc.boolean(),
    })
    .map((r): VIommuConfig => {
      const sm = r.scalable;
      const fs = sm && r.firstStage;
      const ss = sm ? s.secondStage : true;
      const cfg: VIommuConfig = {
        scalable: sm,
        awBits: r.awBits,
        cachingMode: r.cachingMode,
        firstStage: fs,
        secondStage: ss || !fs,
        nested: fs && ss && r.nested,
        passThrough: r.passThrough,
        pasidBits: sm ? r.pasidBits : 0,
        snoopControl: r.snoopControl,
        fs1gp: fs && r.fs1gp,
        fl5lp: fs && r.fl5lp,
        ssLargePages: { twoMiB: r.twoMiB || r.oneGiB, oneGiB: r.oneGiB },
        hawBits: r.hawBits,
        faultRecords: r.faultRecords,
        supervisorRequests: fs && r.supervisorRequests,
        extendedAccessed: fs && r.extendedAccessed,
      };
      const problems = configProblems(cfg);
      if (problems.length > 0)
        throw new Error(`generated an impossible configuration: ${problems.join("; ")}`);
      return cfg;
    });
}

/** A guest platform: the vIOMMU, up to four emulated devices, 16 MiB of RAM. */
export function guestPlatformArb(
  d: ModelDescription,
  wants: GuestConfigWants = {},
): fc.Arbitrary<PlatformConfig> {
  const sids = GUEST_SIDS.slice(0, Math.min(GUEST_SIDS.length, d.supports.maxDevices));
  return viommuConfigArb(d, wants).map((viommu) => ({
    viommu,
    devices: sids.map((sid) => ({ sid, kind: "emulated" as const })),
    memory: { size: GUEST_RAM, regions: [{ gpa: 0n, size: GUEST_RAM, readOnly: false }] },
    hostIommus: [],
  }));
}

/** One line naming a configuration's options, for traces. */
export function describeConfig(c: PlatformConfig): string {
  const v = c.viommu;
  const opts = [
    v.scalable ? "scalable" : "legacy",
    `aw ${v.awBits}`,
    `CM ${+v.cachingMode}`,
    v.firstStage ? "FS" : "",
    v.secondStage ? "SS" : "",
    v.nested ? "nested" : "",
    v.passThrough ? "PT" : "",
    v.pasidBits > 0 ? `PASID ${v.pasidBits} bits` : "",
    v.fs1gp ? "FS1GP" : "",
    v.fl5lp ? "FL5LP" : "",
    v.ssLargePages.oneGiB ? "SS 2M+1G" : v.ssLargePages.twoMiB ? "SS 2M" : "",
    `HAW ${v.hawBits}`,
    `${v.faultRecords} fault records`,
  ];
  return `platform: ${opts.filter((o) => o !== "").join(", ")}; devices ${c.devices.map((d) => `0x${d.sid.toString(16)}`).join(" ")}`;
}
