/**
 * VMM configurations: vIOMMU options × passed-through devices (with their host IOMMUs) ×
 * emulated devices, at least four devices, and guest memory maps with RAM and read-only regions.
 * [VMM-COMPAT-1] .. [VMM-COMPAT-10] [VMM-S2-1] [VMM-S2-2] [VMM-S2-4] [VMM-SHADOW-1]
 */
import fc from "fast-check";
import { expectedRefusal } from "../cases/vmm-compat.ts";
import type {
  DeviceConfig,
  HostIommuConfig,
  MemoryRegion,
  ModelDescription,
  PlatformConfig,
  VIommuConfig,
} from "../contract/types.ts";
import { configProblems } from "../contract/viommu-capabilities.ts";
import { legacyViommu } from "../contract/viommu-options.ts";
import { coveringHostIommuArb, hostIommuArb } from "./host-caps.ts";
import { type HostSide, hostSideArb, nestableHostSideArb, sidsArb } from "./host-devices.ts";
import { fitVmmConfig } from "./vmm-fit.ts";
import { breakMemory, type MemoryBreak, memoryBreakArb } from "./vmm-memory-break.ts";
import { nearMissArb } from "./vmm-near-miss.ts";

/** Guest memory of generated VMs: 16 MiB. */
export const VM_RAM = 16n << 20n;
/** Where the read-only region (a ROM) starts when there is one: the top 1 or 2 MiB. */
export const ROM_SIZES = [0x10_0000n, 0x20_0000n] as const;

/** Why a model cannot run VMM properties, or null. */
export function vmmProblem(d: ModelDescription, opts: { hostView?: boolean } = {}): string | null {
  const s = d.supports;
  if (!s.passthroughDevices) return "the model has no passed-through devices";
  const pt = d.limits?.passthrough;
  if (pt !== undefined && !pt.host.iommufd)
    return "the passed-through devices are bound through the legacy VFIO container: first-stage (nested) translation of a passed-through device needs IOMMUFD, which the VMM then refuses (VMM-COMPAT-3); the second-stage (shadow) form runs in shadow-equivalence";
  if (!s.scalable || !s.firstStage) return "the model has no scalable-mode first-stage translation";
  if (!s.pasidRequests) return "the model's devices issue no PASID requests";
  if (!s.dmaRead) return "the model's devices cannot issue DMA reads";
  if (!s.cachingMode.includes(true)) return "the model has no caching mode (CM = 1)";
  if (s.maxDevices < 4) return "the model takes fewer than four devices";
  if (opts.hostView && !s.hostView) return "the model has no hostView";
  return null;
}

/**
 * Guest memory: contiguous regions from GPA 0 covering the whole size, RAM below and, often, a
 * read-only region at the top (no holes: every guest address is RAM or ROM).
 */
export function guestMemoryArb(size: bigint = VM_RAM): fc.Arbitrary<PlatformConfig["memory"]> {
  return fc.option(fc.constantFrom(...ROM_SIZES), { nil: undefined, freq: 4 }).map((rom) => {
    const regions: MemoryRegion[] =
      rom === undefined
        ? [{ gpa: 0n, size, readOnly: false }]
        : [
            { gpa: 0n, size: size - rom, readOnly: false },
            { gpa: size - rom, size: rom, readOnly: true },
          ];
    return { size, regions };
  });
}

/**
 * The vIOMMU options VMM scenarios share (scalable, caching mode on, second stage only, 2 MiB
 * second-stage pages, HAW 46, eight fault records), with what a scenario changes.
 */
export function vmmViommu(over: Partial<VIommuConfig>): VIommuConfig {
  return legacyViommu({
    scalable: true,
    cachingMode: true,
    passThrough: false,
    ssLargePages: { twoMiB: true, oneGiB: false },
    faultRecords: 8,
    ...over,
  });
}

/**
 * vIOMMU options for VMM scenarios judged through guest DMAs: scalable mode with first-stage
 * translation and PASIDs, caching mode on (the VMM learns of new entries only from the guest's
 * invalidations), no second stage to shadow.
 */
export function nestingViommuArb(d: ModelDescription): fc.Arbitrary<VIommuConfig> {
  return fc
    .record({
      awBits: fc.constantFrom(...d.supports.awBits.filter((w) => w >= 48)),
      passThrough: d.supports.passThrough ? fc.boolean() : fc.constant(false),
      pasidBits: fc.constantFrom(8, 10),
      snoopControl: fc.boolean(),
      fs1gp: fc.boolean(),
      supervisorRequests: fc.boolean(),
      // ECAP.EAFS: guest PASID entries may set EAFE, and walks then set EA [ORACLE-JUDGE-9].
      extendedAccessed: fc.boolean(),
    })
    .map((r) =>
      vmmViommu({
        awBits: r.awBits,
        firstStage: true,
        secondStage: false,
        passThrough: r.passThrough,
        pasidBits: r.pasidBits,
        snoopControl: r.snoopControl,
        fs1gp: r.fs1gp,
        supervisorRequests: r.supervisorRequests,
        extendedAccessed: r.extendedAccessed,
      }),
    );
}

/**
 * A VM the VMM accepts: a nesting vIOMMU, 4..6 devices of which 2..3 are emulated and 2..3 are
 * passed through behind 1..2 host IOMMUs that cover the vIOMMU's options, guest memory with RAM
 * and often a ROM.
 */
export function vmmPlatformArb(d: ModelDescription): fc.Arbitrary<PlatformConfig> {
  const maxDevices = Math.min(6, d.supports.maxDevices);
  return nestingViommuArb(d).chain((viommu) =>
    fc
      .record({
        emulated: fc.integer({ min: 2, max: 3 }),
        passthrough: fc.integer({ min: 2, max: 3 }),
        iommus: fc.integer({ min: 1, max: 2 }),
      })
      .chain(({ emulated, passthrough, iommus }) => {
        const pt = Math.min(passthrough, maxDevices - 2);
        const em = Math.min(emulated, maxDevices - pt);
        const ids = Array.from({ length: iommus }, (_, i) => `h${i}`);
        return fc.record({
          viommu: fc.constant(viommu),
          sids: sidsArb(em + pt),
          kinds: fc.shuffledSubarray(
            Array.from({ length: em + pt }, (_, i) => i),
            { minLength: pt, maxLength: pt },
          ),
          hosts: fc.array(nestableHostSideArb(ids), { minLength: pt, maxLength: pt }),
          hostIommus: fc.tuple(...ids.map((id) => coveringHostIommuArb(id, viommu))),
          memory: guestMemoryArb(),
        });
      })
      .map((r) => {
        const ptIndex = new Set(r.kinds);
        let h = 0;
        const devices: DeviceConfig[] = r.sids.map((sid, i) =>
          ptIndex.has(i)
            ? { sid, kind: "passthrough", host: r.hosts[h++] as HostSide }
            : { sid, kind: "emulated" },
        );
        return fitVmmConfig(
          d,
          { viommu: r.viommu, devices, memory: r.memory, hostIommus: [...r.hostIommus] },
          { accepted: true },
        );
      }),
  );
}

/** Any vIOMMU options the reference register file can present (for compatibility checks). */
export function anyViommuArb(d: ModelDescription): fc.Arbitrary<VIommuConfig> {
  const s = d.supports;
  return fc
    .record({
      scalable: s.legacy && s.scalable ? fc.boolean() : fc.constant(s.scalable),
      awBits: fc.constantFrom(...s.awBits),
      cachingMode: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      firstStage: fc.boolean(),
      secondStage: fc.boolean(),
      passThrough: fc.boolean(),
      pasidBits: fc.constantFrom(0, 8, 10, 14, 20),
      snoopControl: fc.boolean(),
      fs1gp: fc.boolean(),
      fl5lp: fc.boolean(),
      supervisorRequests: fc.boolean(),
      extendedAccessed: fc.boolean(),
    })
    .map((r): VIommuConfig => {
      const fs = r.scalable && r.firstStage && s.firstStage;
      const cfg: VIommuConfig = {
        scalable: r.scalable,
        awBits: r.awBits,
        cachingMode: s.cachingMode.includes(r.cachingMode) ? r.cachingMode : (s.cachingMode[0] as boolean),
        firstStage: fs,
        secondStage: r.scalable ? r.secondStage || !fs : true,
        nested: false,
        passThrough: r.passThrough && s.passThrough,
        pasidBits: r.scalable ? r.pasidBits : 0,
        snoopControl: r.snoopControl,
        fs1gp: fs && r.fs1gp,
        fl5lp: fs && r.fl5lp,
        ssLargePages: { twoMiB: true, oneGiB: false },
        hawBits: 46,
        faultRecords: 8,
        supervisorRequests: fs && r.supervisorRequests,
        extendedAccessed: fs && r.extendedAccessed,
      };
      const problems = configProblems(cfg);
      if (problems.length > 0) throw new Error(`generated an impossible vIOMMU: ${problems.join("; ")}`);
      return cfg;
    });
}

/** One candidate joining of a host device to a vIOMMU: the whole VM around it. */
export interface CompatibilityCase {
  config: PlatformConfig;
  /** SID of the device under test (the only passed-through device). */
  sid: number;
}

/**
 * A VM with three emulated devices and one passed-through device whose host IOMMU and host side
 * are arbitrary: the VMM must accept it exactly when the host covers the vIOMMU's options.
 */
export function compatibilityCaseArb(d: ModelDescription): fc.Arbitrary<CompatibilityCase> {
  // Two in three: a near miss (a covering host with one check broken, vmm-near-miss.ts); else
  // everything independent, which also mixes several failing checks.
  const joining = fc.oneof(
    {
      weight: 1,
      arbitrary: fc.record({ viommu: anyViommuArb(d), iommu: hostIommuArb("h0"), host: hostSideArb(["h0"]) }),
    },
    { weight: 2, arbitrary: nearMissArb(d, anyViommuArb(d), hostSideArb(["h0"])) },
  );
  // One case in five: a VM the host covers, with a malformed memory map [VMM-COMPAT-10].
  const covered = nearMissArb(d, anyViommuArb(d), hostSideArb(["h0"]), ["none"]);
  // Not for a model driving a real host (qemu:nested): it takes guest memory as a size and lays
  // it out itself (vmm-fit.ts), so a region map is not its to refuse.
  const memoryCase =
    d.limits?.passthrough !== undefined
      ? fc.record({ joining, memoryBreak: fc.constant<MemoryBreak | undefined>(undefined) })
      : fc.oneof(
          {
            weight: 4,
            arbitrary: fc.record({ joining, memoryBreak: fc.constant<MemoryBreak | undefined>(undefined) }),
          },
          { weight: 1, arbitrary: fc.record({ joining: covered, memoryBreak: memoryBreakArb() }) },
        );
  return fc
    .record({
      memoryCase,
      sids: sidsArb(4),
      at: fc.integer({ min: 0, max: 3 }),
      memory: guestMemoryArb(),
    })
    .map(({ memoryCase: { joining: j, memoryBreak }, ...rest }) => ({
      ...rest,
      memoryBreak,
      viommu: j.viommu,
      iommu: j.iommu,
      host: j.host,
    }))
    .map((r) => {
      const sid = r.sids[r.at] as number;
      const devices: DeviceConfig[] = r.sids.map((s) =>
        s === sid ? { sid: s, kind: "passthrough", host: r.host } : { sid: s, kind: "emulated" },
      );
      const hostIommus: HostIommuConfig[] = [r.iommu];
      const config = fitVmmConfig(
        d,
        { viommu: r.viommu, devices, memory: r.memory, hostIommus },
        { accepted: false },
      );
      // [QEMU-NEST-9] a model with real host devices: the one passed through, on its own SID.
      const fitted = config.devices.find((x) => x.kind === "passthrough")?.sid ?? sid;
      // The map is broken after fitting (which rebuilds it) and only where nothing else refuses.
      if (r.memoryBreak !== undefined && expectedRefusal(config) === undefined)
        return { config: { ...config, memory: breakMemory(config.memory, r.memoryBreak) }, sid: fitted };
      return { config, sid: fitted };
    });
}

/** The passed-through devices of a configuration, in order: their host device ids are 1, 2, … */
export function passthroughDevices(config: PlatformConfig): Array<DeviceConfig & { devId: number }> {
  return config.devices.filter((dv) => dv.kind === "passthrough").map((dv, i) => ({ ...dv, devId: i + 1 }));
}
