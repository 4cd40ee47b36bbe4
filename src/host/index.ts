/** The reference host IOMMU (Linux iommufd style): the class, the errno values and the uAPI codecs. */

export { Errno, errnoName } from "../spec/iommufd/errno.ts";
export * from "../spec/iommufd/ioctl-numbers.ts";
export * from "../spec/iommufd/structs.ts";
export { pointerKey } from "../spec/iommufd/user-memory.ts";
export {
  canEnforceCoherency,
  coherencyBox,
  deviceNonCoherent,
  vmObservesNonCoherentDma,
} from "./coherency.ts";
export {
  type HostDeviceConfig,
  HostIommufd,
  type HostIommufdConfig,
  type HostIommufdView,
} from "./host-iommufd.ts";
export { hostCap, hostEcap, stage2Levels } from "./hw-info.ts";
export type { HostDmaRequest } from "./translate.ts";
