/**
 * VMs for host-side properties: the vIOMMU asks nothing of the host beyond a 39-bit width
 * (scalable mode, second stage only, caching mode on), so the VMM takes any host IOMMU and every
 * host device attaches; the properties then work on the host surface directly. [VMM-COMPAT-2]
 */
import fc from "fast-check";
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

/** 2..3 host IOMMUs and 3 iommufd host devices spread over them (no bridges). */
export function hostSetupArb(
  iommu: (id: string) => fc.Arbitrary<HostIommuConfig> = hostIommuArb,
): fc.Arbitrary<{ config: PlatformConfig; iommus: HostIommuConfig[]; hosts: HostSide[] }> {
  return fc.integer({ min: 2, max: 3 }).chain((n) => {
    const ids = Array.from({ length: n }, (_, i) => `h${i}`);
    return fc
      .record({
        iommus: fc.tuple(...ids.map((id) => iommu(id))),
        hosts: fc.array(
          fc.record({
            iommu: fc.constantFrom(...ids),
            noSnoop: fc.boolean(),
            behindBridge: fc.constant(false),
            iommufd: fc.constant(true),
          }),
          { minLength: 3, maxLength: 3 },
        ),
        sids: sidsArb(4),
      })
      .map((r) => ({
        config: hostVm([...r.iommus], r.hosts, r.sids),
        iommus: [...r.iommus],
        hosts: r.hosts,
      }));
  });
}
