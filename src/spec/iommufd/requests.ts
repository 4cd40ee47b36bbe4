/**
 * The bytes of the iommufd and VFIO cdev calls a user of the uAPI makes (the VMM, a host
 * property): the command, its struct and the user buffers it points at. Issuing them (sync on
 * the model, async through an adapter) and reading the answers is the caller's business; building
 * them is the same for all, so it lives here once. [HOST-UAPI-1]
 */

import {
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_IOAS_MAP,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from "./ioctl-numbers.ts";
import {
  encodeVtdInvalidateEntries,
  HwptAllocFlags,
  HwptDataType,
  HwptInvalidateDataType,
  hwInfoCodec,
  hwptAllocCodec,
  hwptInvalidateCodec,
  IoasMapFlags,
  type IommuHwptVtdS1Invalidate,
  ioasMapCodec,
  VfioAttachFlags,
  VfioDetachFlags,
  vfioAttachCodec,
  vfioDetachCodec,
  vtdS1Codec,
} from "./structs.ts";
import { pointerKey } from "./user-memory.ts";

/** An ioctl to issue: command, struct bytes, and the user buffers by pointer key. */
export interface IoctlRequest {
  cmd: number;
  bytes: Uint8Array;
  user?: Record<string, Uint8Array>;
}

/** Size of struct iommu_hw_info_vtd, the payload GET_HW_INFO fills for a VT-d IOMMU. */
export const HW_INFO_VTD_BYTES = 24;

/** GET_HW_INFO with a VT-d-sized payload buffer at `ptr`. */
export function hwInfoRequest(devId: number, ptr: bigint): IoctlRequest {
  return {
    cmd: IOMMU_GET_HW_INFO,
    bytes: hwInfoCodec.encode({ dev_id: devId, data_len: HW_INFO_VTD_BYTES, data_uptr: ptr }),
    user: { [pointerKey(ptr)]: new Uint8Array(HW_INFO_VTD_BYTES) },
  };
}

/** IOAS_MAP at a fixed IOVA of `length` bytes of user memory at `userVa`. */
export function ioasMapRequest(
  ioas: number,
  iova: bigint,
  userVa: bigint,
  length: bigint,
  perms: { read: boolean; write: boolean },
): IoctlRequest {
  const flags =
    IoasMapFlags.FIXED_IOVA |
    (perms.read ? IoasMapFlags.READABLE : 0) |
    (perms.write ? IoasMapFlags.WRITEABLE : 0);
  return {
    cmd: IOMMU_IOAS_MAP,
    bytes: ioasMapCodec.encode({ flags, ioas_id: ioas, user_va: userVa, length, iova }),
  };
}

/** HWPT_ALLOC of a paging (stage-2) HWPT on an IOAS (or a paging HWPT to replace). */
export function hwptPagingRequest(
  devId: number,
  ptId: number,
  o: { nestParent?: boolean; pasid?: boolean },
): IoctlRequest {
  const flags = (o.nestParent ? HwptAllocFlags.NEST_PARENT : 0) | (o.pasid ? HwptAllocFlags.PASID : 0);
  return { cmd: IOMMU_HWPT_ALLOC, bytes: hwptAllocCodec.encode({ flags, dev_id: devId, pt_id: ptId }) };
}

/** HWPT_ALLOC of a nested HWPT: a VT-d stage-1 table (guest-physical) on the nest parent. */
export function hwptNestedRequest(
  devId: number,
  parent: number,
  s1: { flags?: bigint; pgtblAddr: bigint; addrWidth: number },
  pasid: boolean,
  ptr: bigint,
): IoctlRequest {
  const data = vtdS1Codec.encode({
    ...(s1.flags === undefined ? {} : { flags: s1.flags }),
    pgtbl_addr: s1.pgtblAddr,
    addr_width: s1.addrWidth,
  });
  return {
    cmd: IOMMU_HWPT_ALLOC,
    bytes: hwptAllocCodec.encode({
      flags: pasid ? HwptAllocFlags.PASID : 0,
      dev_id: devId,
      pt_id: parent,
      data_type: HwptDataType.VTD_S1,
      data_len: data.length,
      data_uptr: ptr,
    }),
    user: { [pointerKey(ptr)]: data },
  };
}

/**
 * HWPT_INVALIDATE of VT-d stage-1 entries in an array at `ptr`; entry length, count and the bytes
 * actually present may be set apart from the entries (malformed calls).
 */
export function hwptInvalidateRequest(
  hwpt: number,
  entries: ReadonlyArray<Partial<IommuHwptVtdS1Invalidate>>,
  ptr: bigint,
  o: { entryLen?: number; entryNum?: number; bufferBytes?: number } = {},
): IoctlRequest {
  const entryLen = o.entryLen ?? 24;
  const buf = encodeVtdInvalidateEntries(entries, entryLen);
  return {
    cmd: IOMMU_HWPT_INVALIDATE,
    bytes: hwptInvalidateCodec.encode({
      hwpt_id: hwpt,
      data_uptr: ptr,
      data_type: HwptInvalidateDataType.VTD_S1,
      entry_len: entryLen,
      entry_num: o.entryNum ?? entries.length,
    }),
    user: { [pointerKey(ptr)]: buf.subarray(0, o.bufferBytes ?? buf.length) },
  };
}

/** VFIO_DEVICE_ATTACH_IOMMUFD_PT (attach or replace), for the RID or one PASID. */
export function vfioAttachRequest(pasid: number | undefined, ptId: number): IoctlRequest {
  return {
    cmd: VFIO_DEVICE_ATTACH_IOMMUFD_PT,
    bytes: vfioAttachCodec.encode({
      flags: pasid === undefined ? 0 : VfioAttachFlags.PASID,
      pt_id: ptId,
      pasid: pasid ?? 0,
    }),
  };
}

/** VFIO_DEVICE_DETACH_IOMMUFD_PT, for the RID or one PASID. */
export function vfioDetachRequest(pasid: number | undefined): IoctlRequest {
  return {
    cmd: VFIO_DEVICE_DETACH_IOMMUFD_PT,
    bytes: vfioDetachCodec.encode({
      flags: pasid === undefined ? 0 : VfioDetachFlags.PASID,
      pasid: pasid ?? 0,
    }),
  };
}
