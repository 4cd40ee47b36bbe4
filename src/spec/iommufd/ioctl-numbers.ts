/**
 * ioctl numbers of the iommufd and VFIO cdev commands the host model implements
 * (include/uapi/linux/iommufd.h, include/uapi/linux/vfio.h). Both use _IO(';', nr):
 * direction and size bits are zero, so the number is (type << 8) | nr.
 * [HOST-UAPI-1]
 */

/** ';' — IOMMUFD_TYPE and VFIO_TYPE are the same character. */
export const IOMMUFD_TYPE = 0x3b;
export const VFIO_TYPE = 0x3b;
export const IOMMUFD_CMD_BASE = 0x80;
export const VFIO_BASE = 100;

/** Linux _IO(type, nr): no data direction, no size. */
export function ioctlIO(type: number, nr: number): number {
  return ((type & 0xff) << 8) | (nr & 0xff);
}

export const IommufdCmd = {
  DESTROY: 0x80,
  IOAS_ALLOC: 0x81,
  IOAS_ALLOW_IOVAS: 0x82,
  IOAS_COPY: 0x83,
  IOAS_IOVA_RANGES: 0x84,
  IOAS_MAP: 0x85,
  IOAS_UNMAP: 0x86,
  OPTION: 0x87,
  VFIO_IOAS: 0x88,
  HWPT_ALLOC: 0x89,
  GET_HW_INFO: 0x8a,
  HWPT_SET_DIRTY_TRACKING: 0x8b,
  HWPT_GET_DIRTY_BITMAP: 0x8c,
  HWPT_INVALIDATE: 0x8d,
  FAULT_QUEUE_ALLOC: 0x8e,
  IOAS_MAP_FILE: 0x8f,
  VIOMMU_ALLOC: 0x90,
  VDEVICE_ALLOC: 0x91,
  IOAS_CHANGE_PROCESS: 0x92,
  VEVENTQ_ALLOC: 0x93,
  HW_QUEUE_ALLOC: 0x94,
} as const;

export const IOMMU_DESTROY = ioctlIO(IOMMUFD_TYPE, IommufdCmd.DESTROY);
export const IOMMU_IOAS_ALLOC = ioctlIO(IOMMUFD_TYPE, IommufdCmd.IOAS_ALLOC);
export const IOMMU_IOAS_MAP = ioctlIO(IOMMUFD_TYPE, IommufdCmd.IOAS_MAP);
export const IOMMU_IOAS_UNMAP = ioctlIO(IOMMUFD_TYPE, IommufdCmd.IOAS_UNMAP);
export const IOMMU_HWPT_ALLOC = ioctlIO(IOMMUFD_TYPE, IommufdCmd.HWPT_ALLOC);
export const IOMMU_GET_HW_INFO = ioctlIO(IOMMUFD_TYPE, IommufdCmd.GET_HW_INFO);
export const IOMMU_HWPT_INVALIDATE = ioctlIO(IOMMUFD_TYPE, IommufdCmd.HWPT_INVALIDATE);

/** VFIO cdev (device fd) commands: VFIO_BASE + 19 and + 20. */
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = ioctlIO(VFIO_TYPE, VFIO_BASE + 19);
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = ioctlIO(VFIO_TYPE, VFIO_BASE + 20);
