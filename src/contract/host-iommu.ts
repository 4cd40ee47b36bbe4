/** Facts of a host IOMMU and a host device as a platform configuration gives them. */
import type { DeviceConfig } from "./types.ts";

/** How a passed-through device sits on the host: its IOMMU, no-snoop, bridge, iommufd or VFIO. */
export type HostSide = NonNullable<DeviceConfig["host"]>;

/** Levels of a host IOMMU's second-stage tables for its width. [HOST-XLATE-3] */
export function hostStage2Levels(awBits: number): 3 | 4 | 5 {
  return awBits >= 57 ? 5 : awBits >= 48 ? 4 : 3;
}
