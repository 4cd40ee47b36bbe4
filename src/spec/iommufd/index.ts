/**
 * The Linux iommufd and VFIO cdev uAPI as the suite needs it: errno values, ioctl numbers, the
 * byte layouts of the structs (include/uapi/linux/iommufd.h, vfio.h) and the requests a user of
 * the uAPI builds. The reference host (src/host) implements it; VMM and host properties speak it.
 */
export { Errno, errnoName } from "./errno.ts";
export * from "./ioctl-numbers.ts";
export * from "./structs.ts";
export { pointerKey } from "./user-memory.ts";
