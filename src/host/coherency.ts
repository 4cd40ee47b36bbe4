import type { HostIommuConfig } from "../contract/types.ts";

/**
 * Cache coherency of DMA (spec/coherency.md). iommufd makes every HWPT that a device
 * behind a snoop-control IOMMU joins enforce snooping; an IOMMU without snoop control
 * cannot serve an enforcing HWPT. Whether a VM can observe non-coherent DMA is the
 * 2×2 matrix of (device can issue no-snoop) × (its IOMMU forces snooping).
 */

/** [HOST-COH-1] IOMMU_CAP_ENFORCE_CACHE_COHERENCY: the IOMMU has ECAP.SC. */
export function canEnforceCoherency(iommu: HostIommuConfig): boolean {
  return iommu.snoopControl;
}

/**
 * [HOST-COH-5] The box of the coherency matrix (thread 002): 1 no-snoop device, IOMMU
 * blocks no-snoop; 2 snooping device, IOMMU blocks; 3 no-snoop device, IOMMU does not
 * block; 4 snooping device, IOMMU does not block. Only box 3 is non-coherent.
 */
export function coherencyBox(device: { noSnoop: boolean }, iommu: HostIommuConfig): 1 | 2 | 3 | 4 {
  const blocks = canEnforceCoherency(iommu);
  if (blocks) return device.noSnoop ? 1 : 2;
  return device.noSnoop ? 3 : 4;
}

/** [HOST-COH-5] A device can make non-coherent DMA visible to its VM. */
export function deviceNonCoherent(device: { noSnoop: boolean }, iommu: HostIommuConfig): boolean {
  return coherencyBox(device, iommu) === 3;
}

/**
 * [HOST-COH-6] A VM (its set of passed-through devices) can observe non-coherent DMA,
 * and so needs WBINVD emulation, exactly when one of its devices is in box 3.
 */
export function vmObservesNonCoherentDma(
  devices: ReadonlyArray<{ noSnoop: boolean; iommu: string }>,
  iommus: ReadonlyArray<HostIommuConfig>,
): boolean {
  return devices.some((d) => {
    const iommu = iommus.find((i) => i.id === d.iommu);
    return iommu !== undefined && deviceNonCoherent(d, iommu);
  });
}
