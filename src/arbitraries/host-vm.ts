/**
 * VMs for host-side properties: the vIOMMU asks nothing of the host beyond a 39-bit width
 * (scalable mode, second stage only, caching mode on), so the VMM takes any host IOMMU and every
 * host device attaches; the properties then work on the host surface directly. [VMM-COMPAT-2]
 */
import fc from "fast-check";
import type { HostCase, HostVmMode } from "../cases/host-case.ts";
import type { DeviceConfig, HostIommuConfig, PlatformConfig, VIommuConfig } from "../contract/types.ts";
import { hostIommuArb } from "./host-caps.ts";
import type { HostSide } from "./host-devices.ts";
import { sidsArb } from "./host-devices.ts";
import { VM_RAM, vmmViommu } from "./vmm-config.ts";

export const PLAIN_VIOMMU: VIommuConfig = vmmViommu({ awBits: 39, passThrough: true });

/** A VM with one emulated device and the given host devices (host device ids 1, 2, … in order). */
export function hostVm(
  iommus: HostIommuConfig[],
  hosts: HostSide[],
  sids: readonly number[],
  readOnlyTop = 0n,
): PlatformConfig {
  const devices: DeviceConfig[] = [
    { sid: sids[0] as number, kind: "emulated" },
    ...hosts.map((host, i): DeviceConfig => ({ sid: sids[i + 1] as number, kind: "passthrough", host })),
  ];
  const regions =
    readOnlyTop === 0n
      ? [{ gpa: 0n, size: VM_RAM, readOnly: false }]
      : [
          { gpa: 0n, size: VM_RAM - readOnlyTop, readOnly: false },
          { gpa: VM_RAM - readOnlyTop, size: readOnlyTop, readOnly: true },
        ];
  return { viommu: PLAIN_VIOMMU, devices, memory: { size: VM_RAM, regions }, hostIommus: iommus };
}

/** An Intel VT-d host IOMMU with nesting and PASIDs, other fields arbitrary. */
export function nestingHostIommuArb(id: string): fc.Arbitrary<HostIommuConfig> {
  return hostIommuArb(id).map((h) => ({
    ...h,
    kind: "intel-vtd" as const,
    nesting: true,
    pasidBits: Math.max(h.pasidBits, 8),
    awBits: Math.max(h.awBits, 48),
  }));
}

/** A vIOMMU offering first-stage translation: the VMM's stage 2 are then nest parents. [VMM-S2-3] */
export const NESTING_VIOMMU: VIommuConfig = {
  ...PLAIN_VIOMMU,
  awBits: 48,
  firstStage: true,
  secondStage: false,
  pasidBits: 8,
};

/**
 * A VM with one emulated device and `devices` iommufd host devices over 2..3 host IOMMUs: "plain"
 * (no first stage offered: any host IOMMU), or "nesting" (first stage offered: VT-d IOMMUs with
 * nesting, so every device passes VMM-COMPAT). Optionally a read-only region at the top of memory.
 */
export function hostCaseArb(
  mode: HostVmMode,
  o: {
    devices?: number;
    readOnlyTop?: bigint;
    iommu?: (id: string) => fc.Arbitrary<HostIommuConfig>;
    /** Some devices bound through the legacy VFIO container (plain VMs only). [VMM-S2-6] */
    vfioCompat?: boolean;
  } = {},
): fc.Arbitrary<HostCase> {
  const n = o.devices ?? 3;
  const iommu = o.iommu ?? (mode === "nesting" ? nestingHostIommuArb : hostIommuArb);
  return fc.integer({ min: 2, max: 3 }).chain((k) => {
    const ids = Array.from({ length: k }, (_, i) => `h${i}`);
    return fc
      .record({
        iommus: fc.tuple(...ids.map((id) => iommu(id))),
        hosts: fc.array(
          fc.record({
            iommu: fc.constantFrom(...ids),
            noSnoop: fc.boolean(),
            behindBridge: fc.constant(false),
            iommufd:
              o.vfioCompat && mode === "plain"
                ? fc.oneof(
                    { weight: 3, arbitrary: fc.constant(true) },
                    { weight: 1, arbitrary: fc.constant(false) },
                  )
                : fc.constant(true),
          }),
          { minLength: n, maxLength: n },
        ),
        sids: sidsArb(n + 1),
      })
      .map((r) => {
        const base = hostVm([...r.iommus], r.hosts, r.sids, o.readOnlyTop ?? 0n);
        const config = mode === "nesting" ? { ...base, viommu: NESTING_VIOMMU } : base;
        return { mode, config, iommus: [...r.iommus], hosts: r.hosts };
      });
  });
}

/** 2..3 host IOMMUs and 3 iommufd host devices spread over them (no bridges): a plain host case. */
export function hostSetupArb(
  iommu: (id: string) => fc.Arbitrary<HostIommuConfig> = hostIommuArb,
): fc.Arbitrary<{ config: PlatformConfig; iommus: HostIommuConfig[]; hosts: HostSide[] }> {
  return hostCaseArb("plain", { iommu }).map(({ config, iommus, hosts }) => ({ config, iommus, hosts }));
}
