/**
 * The VMM's side of the iommufd and VFIO cdev uAPI: every call goes through the host's
 * byte-level ioctl with the uAPI codecs, exactly as QEMU talks to the kernel, so the host's
 * size, flag and errno rules apply to the VMM too. [VMM-S2-3]
 */
import type { HostIommufd } from "../host/host-iommufd.ts";
import {
  destroyCodec,
  encodeVtdInvalidateEntries,
  HwInfoType,
  HwptAllocFlags,
  HwptDataType,
  HwptInvalidateDataType,
  hwInfoCodec,
  hwInfoVtdCodec,
  hwptAllocCodec,
  hwptInvalidateCodec,
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IoasMapFlags,
  ioasAllocCodec,
  ioasMapCodec,
  ioasUnmapCodec,
  pointerKey,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VfioAttachFlags,
  VfioDetachFlags,
  vfioAttachCodec,
  vfioDetachCodec,
  vtdS1Codec,
} from "../host/index.ts";

const U64_MAX = (1n << 64n) - 1n;
/** Where the VMM keeps driver payloads in its own (user) memory. */
const PAYLOAD_PTR = 0x7f00_0000_0000n;

/** A call's errno and, on success, its result. */
export type HostCall<T> = { errno: 0; value: T } | { errno: number; value?: undefined };

export interface HwInfo {
  /** IOMMU_HW_INFO_TYPE_* of the device's IOMMU. */
  type: number;
  maxPasidLog2: number;
  /** VT-d payload (type INTEL_VTD only). */
  vtd?: { flags: number; cap: bigint; ecap: bigint };
}

export interface StageOneConfig {
  flags: bigint;
  pgtblAddr: bigint;
  addrWidth: number;
}

export class HostIo {
  constructor(readonly host: HostIommufd) {}

  getHwInfo(devId: number): HostCall<HwInfo> {
    const ptr = PAYLOAD_PTR;
    const len = 24;
    const r = this.host.ioctl(
      IOMMU_GET_HW_INFO,
      hwInfoCodec.encode({ dev_id: devId, data_len: len, data_uptr: ptr }),
      { [pointerKey(ptr)]: new Uint8Array(len) },
    );
    if (r.errno !== 0) return { errno: r.errno };
    const out = hwInfoCodec.decode(r.bytes);
    const info: HwInfo = { type: out.data_type, maxPasidLog2: out.out_max_pasid_log2 };
    const payload = r.out?.[pointerKey(ptr)];
    if (out.data_type === HwInfoType.INTEL_VTD && payload !== undefined && out.data_len >= len) {
      const v = hwInfoVtdCodec.decode(payload);
      info.vtd = { flags: v.flags, cap: v.cap_reg, ecap: v.ecap_reg };
    }
    return { errno: 0, value: info };
  }

  ioasAlloc(): HostCall<number> {
    const r = this.host.ioctl(IOMMU_IOAS_ALLOC, ioasAllocCodec.encode({}));
    return r.errno === 0
      ? { errno: 0, value: ioasAllocCodec.decode(r.bytes).out_ioas_id }
      : { errno: r.errno };
  }

  /** IOAS_MAP at a fixed IOVA of host memory (user_va = host physical address). */
  ioasMap(
    ioasId: number,
    iova: bigint,
    hpa: bigint,
    length: bigint,
    perms: { read: boolean; write: boolean },
  ): number {
    const flags =
      IoasMapFlags.FIXED_IOVA |
      (perms.read ? IoasMapFlags.READABLE : 0) |
      (perms.write ? IoasMapFlags.WRITEABLE : 0);
    return this.host.ioctl(
      IOMMU_IOAS_MAP,
      ioasMapCodec.encode({ flags, ioas_id: ioasId, user_va: hpa, length, iova }),
    ).errno;
  }

  /** IOAS_UNMAP of everything (iova 0, length 2^64 − 1). */
  ioasUnmapAll(ioasId: number): number {
    return this.host.ioctl(
      IOMMU_IOAS_UNMAP,
      ioasUnmapCodec.encode({ ioas_id: ioasId, iova: 0n, length: U64_MAX }),
    ).errno;
  }

  /** A paging (stage-2) HWPT on an IOAS. */
  hwptAllocPaging(
    devId: number,
    ioasId: number,
    opts: { nestParent: boolean; pasid: boolean },
  ): HostCall<number> {
    const flags =
      (opts.nestParent ? HwptAllocFlags.NEST_PARENT : 0) | (opts.pasid ? HwptAllocFlags.PASID : 0);
    const r = this.host.ioctl(
      IOMMU_HWPT_ALLOC,
      hwptAllocCodec.encode({ flags, dev_id: devId, pt_id: ioasId }),
    );
    return r.errno === 0
      ? { errno: 0, value: hwptAllocCodec.decode(r.bytes).out_hwpt_id }
      : { errno: r.errno };
  }

  /** A nested HWPT: the guest's stage-1 table (a guest-physical pointer) on a nest parent. */
  hwptAllocNested(devId: number, parentId: number, s1: StageOneConfig, pasid: boolean): HostCall<number> {
    const ptr = PAYLOAD_PTR;
    const data = vtdS1Codec.encode({ flags: s1.flags, pgtbl_addr: s1.pgtblAddr, addr_width: s1.addrWidth });
    const r = this.host.ioctl(
      IOMMU_HWPT_ALLOC,
      hwptAllocCodec.encode({
        flags: pasid ? HwptAllocFlags.PASID : 0,
        dev_id: devId,
        pt_id: parentId,
        data_type: HwptDataType.VTD_S1,
        data_len: data.length,
        data_uptr: ptr,
      }),
      { [pointerKey(ptr)]: data },
    );
    return r.errno === 0
      ? { errno: 0, value: hwptAllocCodec.decode(r.bytes).out_hwpt_id }
      : { errno: r.errno };
  }

  /** HWPT_INVALIDATE with one VT-d stage-1 entry; returns the errno. */
  hwptInvalidate(hwptId: number, entry: { addr: bigint; npages: bigint; leaf: boolean }): number {
    const ptr = PAYLOAD_PTR;
    const entries = encodeVtdInvalidateEntries([
      { addr: entry.addr, npages: entry.npages, flags: entry.leaf ? 1 : 0 },
    ]);
    const r = this.host.ioctl(
      IOMMU_HWPT_INVALIDATE,
      hwptInvalidateCodec.encode({
        hwpt_id: hwptId,
        data_uptr: ptr,
        data_type: HwptInvalidateDataType.VTD_S1,
        entry_len: 24,
        entry_num: 1,
      }),
      { [pointerKey(ptr)]: entries },
    );
    if (r.errno !== 0) return r.errno;
    // [HOST-UAPI-60] success with fewer entries done than asked is still a failure for the VMM.
    return hwptInvalidateCodec.decode(r.bytes).entry_num === 1 ? 0 : -1;
  }

  destroy(id: number): number {
    return this.host.ioctl(IOMMU_DESTROY, destroyCodec.encode({ id })).errno;
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT (replaces an existing attachment); returns the attached HWPT. */
  attach(devId: number, pasid: number | undefined, ptId: number): HostCall<number> {
    const bytes = vfioAttachCodec.encode({
      flags: pasid === undefined ? 0 : VfioAttachFlags.PASID,
      pt_id: ptId,
      pasid: pasid ?? 0,
    });
    const r = this.host.deviceIoctl(devId, VFIO_DEVICE_ATTACH_IOMMUFD_PT, bytes);
    return r.errno === 0 ? { errno: 0, value: vfioAttachCodec.decode(r.bytes).pt_id } : { errno: r.errno };
  }

  detach(devId: number, pasid: number | undefined): number {
    const bytes = vfioDetachCodec.encode({
      flags: pasid === undefined ? 0 : VfioDetachFlags.PASID,
      pasid: pasid ?? 0,
    });
    return this.host.deviceIoctl(devId, VFIO_DEVICE_DETACH_IOMMUFD_PT, bytes).errno;
  }
}

export { U64_MAX };
