/**
 * The VMM's side of the iommufd and VFIO cdev uAPI: every call goes through the host's
 * byte-level ioctl with the uAPI codecs, exactly as QEMU talks to the kernel, so the host's
 * size, flag and errno rules apply to the VMM too. [VMM-S2-3]
 */
import type { HostIommufd } from "../host/host-iommufd.ts";
import {
  destroyCodec,
  HwInfoType,
  hwInfoCodec,
  hwInfoVtdCodec,
  hwptAllocCodec,
  hwptInvalidateCodec,
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_UNMAP,
  ioasAllocCodec,
  ioasUnmapCodec,
  pointerKey,
  vfioAttachCodec,
} from "../host/index.ts";
import {
  HW_INFO_VTD_BYTES,
  hwInfoRequest,
  hwptInvalidateRequest,
  hwptNestedRequest,
  hwptPagingRequest,
  type IoctlRequest,
  ioasMapRequest,
  vfioAttachRequest,
  vfioDetachRequest,
} from "../spec/iommufd/requests.ts";

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

  private call(r: IoctlRequest) {
    return this.host.ioctl(r.cmd, r.bytes, r.user);
  }

  getHwInfo(devId: number): HostCall<HwInfo> {
    const r = this.call(hwInfoRequest(devId, PAYLOAD_PTR));
    if (r.errno !== 0) return { errno: r.errno };
    const out = hwInfoCodec.decode(r.bytes);
    const info: HwInfo = { type: out.data_type, maxPasidLog2: out.out_max_pasid_log2 };
    const payload = r.out?.[pointerKey(PAYLOAD_PTR)];
    if (
      out.data_type === HwInfoType.INTEL_VTD &&
      payload !== undefined &&
      out.data_len >= HW_INFO_VTD_BYTES
    ) {
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
    return this.call(ioasMapRequest(ioasId, iova, hpa, length, perms)).errno;
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
    const r = this.call(hwptPagingRequest(devId, ioasId, opts));
    return r.errno === 0
      ? { errno: 0, value: hwptAllocCodec.decode(r.bytes).out_hwpt_id }
      : { errno: r.errno };
  }

  /** A nested HWPT: the guest's stage-1 table (a guest-physical pointer) on a nest parent. */
  hwptAllocNested(devId: number, parentId: number, s1: StageOneConfig, pasid: boolean): HostCall<number> {
    const r = this.call(hwptNestedRequest(devId, parentId, s1, pasid, PAYLOAD_PTR));
    return r.errno === 0
      ? { errno: 0, value: hwptAllocCodec.decode(r.bytes).out_hwpt_id }
      : { errno: r.errno };
  }

  /** HWPT_INVALIDATE with one VT-d stage-1 entry; returns the errno. */
  hwptInvalidate(hwptId: number, entry: { addr: bigint; npages: bigint; leaf: boolean }): number {
    const r = this.call(
      hwptInvalidateRequest(
        hwptId,
        [{ addr: entry.addr, npages: entry.npages, flags: entry.leaf ? 1 : 0 }],
        PAYLOAD_PTR,
      ),
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
    const q = vfioAttachRequest(pasid, ptId);
    const r = this.host.deviceIoctl(devId, q.cmd, q.bytes);
    return r.errno === 0 ? { errno: 0, value: vfioAttachCodec.decode(r.bytes).pt_id } : { errno: r.errno };
  }

  detach(devId: number, pasid: number | undefined): number {
    const q = vfioDetachRequest(pasid);
    return this.host.deviceIoctl(devId, q.cmd, q.bytes).errno;
  }
}

export { U64_MAX };
