/**
 * The iommufd and VFIO cdev calls host properties make through a model's HostSurface, with the
 * uAPI codecs, each returning its errno and result. Host device ids follow docs/protocol.md: the
 * passed-through devices of the configuration are 1, 2, … in order; user memory is guest memory
 * at 0x4000_0000 + GPA ([VMM-S2-1] [HOST-XLATE-1]). Methods are named after the ioctls they
 * issue, as in the VMM's HostIo (src/vmm/host-io.ts): getHwInfo, ioasAlloc, hwptAllocPaging, ….
 */

import { pasidTag } from "../contract/surface.ts";
import type { HostSurface, IoctlResult } from "../contract/types.ts";
import {
  destroyCodec,
  hwInfoCodec,
  hwInfoVtdCodec,
  hwptAllocCodec,
  hwptInvalidateCodec,
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_UNMAP,
  type IommuHwptVtdS1Invalidate,
  ioasAllocCodec,
  ioasMapCodec,
  ioasUnmapCodec,
  pointerKey,
  vfioAttachCodec,
} from "../spec/iommufd/index.ts";
import {
  hwInfoRequest,
  hwptInvalidateRequest,
  hwptNestedRequest,
  hwptPagingRequest,
  type IoctlRequest,
  ioasMapRequest,
  vfioAttachRequest,
  vfioDetachRequest,
} from "../spec/iommufd/requests.ts";
import type { PropertyContext, PropertyOutcome } from "./property.ts";

/** [VMM-S2-1] Host (user) address of a guest-physical address. */
export const USER_BASE = 0x4000_0000n;
/** Where host properties keep driver payloads in user memory. */
export const PAYLOAD = 0x7e00_0000_0000n;
export const U64_MAX = (1n << 64n) - 1n;

export type Call<T> = { errno: number; value?: T; raw: IoctlResult };

export class HostClient {
  constructor(readonly host: HostSurface) {}

  private call(r: IoctlRequest): Promise<IoctlResult> {
    return this.host.ioctl(r.cmd, r.bytes, r.user);
  }

  get hasDeviceFiles(): boolean {
    return this.host.deviceIoctl !== undefined;
  }

  async ioasAlloc(): Promise<Call<number>> {
    const raw = await this.host.ioctl(IOMMU_IOAS_ALLOC, ioasAllocCodec.encode({}));
    return { errno: raw.errno, value: ioasAllocCodec.decode(raw.bytes).out_ioas_id, raw };
  }

  async ioasMap(
    ioas: number,
    iova: bigint,
    gpa: bigint,
    length: bigint,
    write = true,
  ): Promise<Call<bigint>> {
    const raw = await this.call(ioasMapRequest(ioas, iova, USER_BASE + gpa, length, { read: true, write }));
    return { errno: raw.errno, value: ioasMapCodec.decode(raw.bytes).iova, raw };
  }

  async ioasUnmap(ioas: number, iova: bigint, length: bigint): Promise<Call<bigint>> {
    const raw = await this.host.ioctl(
      IOMMU_IOAS_UNMAP,
      ioasUnmapCodec.encode({ ioas_id: ioas, iova, length }),
    );
    return { errno: raw.errno, value: ioasUnmapCodec.decode(raw.bytes).length, raw };
  }

  async hwptAllocPaging(
    devId: number,
    ptId: number,
    o: { nestParent?: boolean; pasid?: boolean } = {},
  ): Promise<Call<number>> {
    const raw = await this.call(hwptPagingRequest(devId, ptId, o));
    return { errno: raw.errno, value: hwptAllocCodec.decode(raw.bytes).out_hwpt_id, raw };
  }

  /** A nested HWPT: the guest's 4-level first-stage table at `pgtbl` (a GPA) on `parent`. */
  async hwptAllocNested(
    devId: number,
    parent: number,
    pgtbl: bigint,
    o: { pasid?: boolean } = {},
  ): Promise<Call<number>> {
    const raw = await this.call(
      hwptNestedRequest(devId, parent, { pgtblAddr: pgtbl, addrWidth: 48 }, o.pasid === true, PAYLOAD),
    );
    return { errno: raw.errno, value: hwptAllocCodec.decode(raw.bytes).out_hwpt_id, raw };
  }

  /** HWPT_INVALIDATE of VT-d stage-1 entries; value: entry_num written back. */
  async hwptInvalidate(
    hwpt: number,
    entries: ReadonlyArray<Partial<IommuHwptVtdS1Invalidate>>,
    o: { entryLen?: number; entryNum?: number; bufferBytes?: number } = {},
  ): Promise<Call<number>> {
    const raw = await this.call(hwptInvalidateRequest(hwpt, entries, PAYLOAD, o));
    return { errno: raw.errno, value: hwptInvalidateCodec.decode(raw.bytes).entry_num, raw };
  }

  async getHwInfo(
    devId: number,
  ): Promise<Call<{ type: number; maxPasidLog2: number; flags: number; cap: bigint; ecap: bigint }>> {
    const raw = await this.call(hwInfoRequest(devId, PAYLOAD));
    const out = hwInfoCodec.decode(raw.bytes);
    const vtd = hwInfoVtdCodec.decode(raw.out?.[pointerKey(PAYLOAD)] ?? new Uint8Array(24));
    return {
      errno: raw.errno,
      value: {
        type: out.data_type,
        maxPasidLog2: out.out_max_pasid_log2,
        flags: vtd.flags,
        cap: vtd.cap_reg,
        ecap: vtd.ecap_reg,
      },
      raw,
    };
  }

  async destroy(id: number): Promise<number> {
    return (await this.host.ioctl(IOMMU_DESTROY, destroyCodec.encode({ id }))).errno;
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT: attach or replace; value: the attached HWPT id. */
  async attach(devId: number, pasid: number | undefined, ptId: number): Promise<Call<number>> {
    const q = vfioAttachRequest(pasid, ptId);
    const raw = await this.deviceIoctl()(devId, q.cmd, q.bytes);
    return { errno: raw.errno, value: vfioAttachCodec.decode(raw.bytes).pt_id, raw };
  }

  async detach(devId: number, pasid: number | undefined): Promise<number> {
    const q = vfioDetachRequest(pasid);
    return (await this.deviceIoctl()(devId, q.cmd, q.bytes)).errno;
  }

  deviceIoctl(): NonNullable<HostSurface["deviceIoctl"]> {
    const f = this.host.deviceIoctl?.bind(this.host);
    if (f === undefined) throw new Error("the host surface has no VFIO device files");
    return f;
  }

  /** A host DMA read of 8 bytes. */
  read(devId: number, iova: bigint, pasid?: number) {
    return this.host.dma({
      devId,
      iova,
      len: 8,
      write: false,
      ...pasidTag(pasid, false),
    });
  }
}

/** Why host properties cannot run on this model, or null. */
export function hostProblem(d: {
  supports: { hostSurface: boolean; passthroughDevices: boolean; maxDevices: number };
}): string | null {
  if (!d.supports.hostSurface) return "the model has no host surface (iommufd ioctls)";
  if (!d.supports.passthroughDevices) return "the model has no passed-through (host) devices";
  if (d.supports.maxDevices < 4) return "the model takes fewer than four devices";
  return null;
}

/** The skip of a property that needs VFIO device files when the host surface has none. */
export function withoutDeviceFiles(ctx: PropertyContext): Promise<PropertyOutcome> | undefined {
  if (ctx.model.host?.deviceIoctl !== undefined) return undefined;
  return Promise.resolve({
    status: "skip",
    reason: "the host surface has no VFIO device files (deviceIoctl)",
  });
}
