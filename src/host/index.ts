/** The reference host IOMMU (Linux iommufd style): the class, the errno values and the uAPI codecs. */
export {
  canEnforceCoherency,
  coherencyBox,
  deviceNonCoherent,
  vmObservesNonCoherentDma,
} from "./coherency.ts";
export { Errno, errnoName } from "./errno.ts";
export {
  type HostDeviceConfig,
  HostIommufd,
  type HostIommufdConfig,
  type HostIommufdView,
} from "./host-iommufd.ts";
export { hostCap, hostEcap, stage2Levels } from "./hw-info.ts";
export type { HostDmaRequest } from "./translate.ts";
export * from "./uapi/ioctl-numbers.ts";
export * from "./uapi/structs.ts";
export { pointerKey } from "./uapi/user-memory.ts";
