/**
 * vIOMMU platform configurations within what an adapter says it supports (ModelDescription) and
 * what a conforming register file can present (src/vtd/capabilities.ts configProblems).
 */
import fc from "fast-check";
import type { ModelDescription, PlatformConfig, VIommuConfig } from "../contract/types.ts";
import { configProblems } from "../contract/viommu-capabilities.ts";

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
  if (d.limits?.emulatedReadData === false)
    return "the model's emulated devices report DMA status only, without the bytes read (guest-side properties need them: run them with the qemu adapter)";
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
  const templates = limitTemplates(d, wants);
  if (templates.length === 0) throw new Error("no configuration within the model's limits");
  const modes: boolean[] = [];
  if (s.legacy && s.secondStage && wants.mode !== "scalable" && !wants.firstStage && !wants.pasid)
    modes.push(false);
  if (s.scalable && wants.mode !== "legacy") modes.push(true);
  return fc
    .record({
      // Scalable mode and first-stage tables hold most of the structures and checks: drawn 2:1.
      scalable: modes.length === 2 ? fc.constantFrom(false, true, true) : fc.constantFrom(...modes),
      awBits: fc.constantFrom(...s.awBits),
      cachingMode: fc.constantFrom(...s.cachingMode),
      firstStage: wants.firstStage
        ? fc.constant(true)
        : s.firstStage
          ? fc.constantFrom(false, true, true)
          : fc.constant(false),
      nested: s.nested ? fc.boolean() : fc.constant(false),
      passThrough: s.passThrough ? fc.boolean() : fc.constant(false),
      pasidBits: wants.pasid
        ? fc.constantFrom(8, 20)
        : s.pasidRequests
          ? fc.constantFrom(0, 8, 20)
          : fc.constant(0),
      snoopControl: fc.boolean(),
      // Without FS1GP a first-stage 1 GiB leaf must fault: the missed check is the likelier bug.
      fs1gp: fc.constantFrom(false, false, true),
      fl5lp: fc.boolean(),
      twoMiB: fc.boolean(),
      oneGiB: fc.boolean(),
      hawBits: fc.constantFrom(39, 42, 46),
      // [VTD-REG-6] 1..256 registers (CAP.NFR + 1): mostly few, now and then the maximum of 256
      // (its register dump reads all of them, so it is kept rare).
      faultRecords: fc.oneof(
        { weight: 15, arbitrary: fc.integer({ min: 1, max: 8 }) },
        { weight: 1, arbitrary: fc.constant(256) },
      ),
      supervisorRequests: fc.boolean(),
      extendedAccessed: fc.boolean(),
      // [VTD-REG-5] ECAP.SSADS in half the scalable units with second-stage tables, so PASID
      // entries can set SSADE (second-stage A/D flags; nested reads of first-stage tables then
      // need second-stage write too, VTD-NEST-5).
      ssads: fc.boolean(),
      template: fc.constantFrom(...templates),
    })
    .map((r0): VIommuConfig => {
      // The model's fixed values win over the drawn ones (ModelDescription.limits.viommu).
      const t = r0.template;
      const r = {
        ...r0,
        ...(t.scalable === undefined ? {} : { scalable: t.scalable }),
        ...(t.firstStage === undefined ? {} : { firstStage: t.firstStage }),
      };
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
        secondStageAccessedDirty: sm && (ss || !fs) && r.ssads,
      };
      Object.assign(cfg, t);
      const problems = configProblems(cfg);
      if (problems.length > 0)
        throw new Error(`generated an impossible configuration: ${problems.join("; ")}`);
      return cfg;
    });
}

/**
 * The model's option combinations (limits.viommu) that can meet `wants` and `supports`; a single
 * empty template when the model names none.
 */
function limitTemplates(d: ModelDescription, wants: GuestConfigWants): Array<Partial<VIommuConfig>> {
  const all = d.limits?.viommu;
  if (all === undefined || all.length === 0) return [{}];
  const s = d.supports;
  const fit = all.filter(
    (t) =>
      (t.scalable !== false ||
        (s.legacy && wants.mode !== "scalable" && !wants.firstStage && !wants.pasid)) &&
      (t.scalable !== true || (s.scalable && wants.mode !== "legacy")) &&
      (t.firstStage !== true || s.firstStage) &&
      (t.firstStage !== false || !wants.firstStage) &&
      (t.awBits === undefined || s.awBits.includes(t.awBits)) &&
      (t.cachingMode === undefined || s.cachingMode.includes(t.cachingMode)),
  );
  if (fit.length === 0)
    throw new Error("no configuration within the model's limits meets the property's needs");
  return fit;
}

/** Device SIDs within the model's limits: GUEST_SIDS where allowed, else the allowed ones from the top. */
export function guestSids(d: ModelDescription): number[] {
  const n = Math.min(GUEST_SIDS.length, d.supports.maxDevices);
  const allowed = d.limits?.sids;
  if (allowed === undefined) return GUEST_SIDS.slice(0, n);
  const out: number[] = GUEST_SIDS.filter((s) => allowed.includes(s));
  for (const s of [...allowed].reverse()) if (out.length < n && !out.includes(s)) out.push(s);
  return out.slice(0, n);
}

/** Address spans (start, end) with the model's memory holes cut out. */
export function withoutHoles(spans: Array<[bigint, bigint]>, d: ModelDescription): Array<[bigint, bigint]> {
  let out = spans;
  for (const h of d.limits?.memoryHoles ?? []) {
    const lo = h.gpa;
    const hi = h.gpa + h.size;
    out = out.flatMap(
      ([a, b]): Array<[bigint, bigint]> =>
        hi <= a || lo >= b
          ? [[a, b]]
          : (
              [
                [a, lo],
                [hi, b],
              ] as Array<[bigint, bigint]>
            ).filter(([x, y]) => y > x),
    );
  }
  return out;
}

/** GUEST_RAM as regions around the model's memory holes. */
export function guestRegions(d: ModelDescription): PlatformConfig["memory"]["regions"] {
  const spans = withoutHoles([[0n, GUEST_RAM]], d);
  return spans.map(([a, b]) => ({ gpa: a, size: b - a, readOnly: false }));
}

/** A guest platform: the vIOMMU, up to four emulated devices, 16 MiB of RAM. */
export function guestPlatformArb(
  d: ModelDescription,
  wants: GuestConfigWants = {},
): fc.Arbitrary<PlatformConfig> {
  const sids = guestSids(d);
  const regions = guestRegions(d);
  return viommuConfigArb(d, wants).map((viommu) => ({
    viommu,
    devices: sids.map((sid) => ({ sid, kind: "emulated" as const })),
    memory: { size: GUEST_RAM, regions },
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
    v.secondStageAccessedDirty === true ? "SSADS" : "",
    v.ssLargePages.oneGiB ? "SS 2M+1G" : v.ssLargePages.twoMiB ? "SS 2M" : "",
    `HAW ${v.hawBits}`,
    `${v.faultRecords} fault records`,
  ];
  return `platform: ${opts.filter((o) => o !== "").join(", ")}; devices ${c.devices.map((d) => `0x${d.sid.toString(16)}`).join(" ")}`;
}
