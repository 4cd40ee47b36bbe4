/**
 * The reference host IOMMU as a VMM sees it through Linux iommufd and the VFIO cdev:
 * byte-level ioctls, host-level DMA and a diagnostic view. See spec/host-uapi.md,
 * spec/host-translation.md and spec/coherency.md.
 *
 * User memory: structs name user buffers by pointer (data_uptr); pass those buffers in
 * `buffers`, keyed by the pointer in lowercase hex ("0x10000"). Buffers the kernel
 * writes come back, whole, in `out`. The VMM's own memory (IOAS_MAP user_va) is host
 * physical memory: user_va is the host physical address of the pinned pages.
 */

import type { DmaResult, HostIommuConfig, IoctlResult } from "../contract/types.ts";
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { Errno, IoctlError } from "../spec/iommufd/errno.ts";
import {
  IOMMUFD_CMD_BASE,
  IOMMUFD_TYPE,
  IommufdCmd,
  VFIO_BASE,
  VFIO_TYPE,
} from "../spec/iommufd/ioctl-numbers.ts";
import { decodeLayout, encodeLayout, type StructLayout } from "../spec/iommufd/layout.ts";
import {
  IOMMU_DESTROY_LAYOUT,
  IOMMU_HW_INFO_LAYOUT,
  IOMMU_HWPT_ALLOC_LAYOUT,
  IOMMU_HWPT_INVALIDATE_LAYOUT,
  IOMMU_IOAS_ALLOC_LAYOUT,
  IOMMU_IOAS_MAP_LAYOUT,
  IOMMU_IOAS_UNMAP_LAYOUT,
  type IommuDestroy,
  type IommuHwInfo,
  type IommuHwptAlloc,
  type IommuHwptInvalidate,
  type IommuIoasAlloc,
  type IommuIoasMap,
  type IommuIoasUnmap,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT_LAYOUT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT_LAYOUT,
  VfioAttachFlags,
  VfioDetachFlags,
  type VfioDeviceAttachIommufdPt,
  type VfioDeviceDetachIommufdPt,
} from "../spec/iommufd/structs.ts";
import { UserMemory } from "../spec/iommufd/user-memory.ts";
import { attachDevice, detachDevice } from "./attach.ts";
import { vmObservesNonCoherentDma } from "./coherency.ts";
import { getHwInfo } from "./device-info.ts";
import { destroyObject, hwptAlloc, hwptInvalidate } from "./hwpt.ts";
import { ioasAlloc, ioasMap, ioasUnmap } from "./ioas.ts";
import { ObjectTable } from "./objects.ts";
import { defaultPoolWindow, PagePool } from "./page-pool.ts";
import { attachedHwpt, type HostState, NO_PASID } from "./state.ts";
import { type HostDmaRequest, translate } from "./translate.ts";
import { copyStructIn, respond, type UserCommand } from "./uapi/framing.ts";

export interface HostDeviceConfig {
  /** The iommufd device id (from VFIO_DEVICE_BIND_IOMMUFD, done before the run). */
  devId: number;
  /** HostIommuConfig.id of the IOMMU the device sits behind. */
  iommu: string;
  /** The device can issue no-snoop transactions. */
  noSnoop: boolean;
  behindBridge: boolean;
}

export interface HostIommufdConfig {
  iommus: HostIommuConfig[];
  devices: HostDeviceConfig[];
  /** Host physical memory: the VMM's pinned memory and the IOMMU page tables. */
  memory: PhysicalMemory;
  /** Window of host memory reserved for IOMMU page tables; default: see defaultPoolWindow. */
  tablePool?: { base: number; size: number };
}

/** The host side for diagnostics: objects and attachments. */
export interface HostIommufdView {
  objects: Array<{
    id: number;
    kind: "device" | "ioas" | "hwpt-paging" | "hwpt-nested";
    users: number;
    /** Paging HWPT: its IOAS; nested HWPT: its parent. */
    parent?: number;
    nestParent?: boolean;
    enforceCoherency?: boolean;
    auto?: boolean;
    stage1?: bigint;
    mappings?: number;
  }>;
  attachments: Array<{
    devId: number;
    pasid?: number;
    hwptId: number;
    kind: "paging" | "nested";
    stage1?: bigint;
  }>;
}

type Handler = (user: UserCommand, mem: UserMemory) => { cmd?: Uint8Array; errno?: number };

/** Commands with their struct layouts; others (COPY, IOVA_RANGES, OPTION, …) are not modelled. */
export class HostIommufd {
  /** The host's objects and attachments; public for the mutant gallery's build hooks only. */
  readonly state: HostState;
  private readonly devices: HostDeviceConfig[];
  private readonly handlers: Map<number, { layout: StructLayout; run: Handler }>;

  constructor(config: HostIommufdConfig) {
    const iommus = new Map(config.iommus.map((i) => [i.id, i] as const));
    const window = config.tablePool ?? defaultPoolWindow(config.memory.size);
    this.state = {
      memory: config.memory,
      pool: new PagePool(config.memory, window.base, window.size),
      iommus,
      objects: new ObjectTable(),
      attachments: new Map(),
    };
    this.devices = config.devices.map((d) => ({ ...d }));
    for (const d of config.devices) {
      const iommu = iommus.get(d.iommu);
      if (iommu === undefined) throw new RangeError(`device ${d.devId}: unknown IOMMU ${d.iommu}`);
      if (!Number.isInteger(d.devId) || d.devId < 1) throw new RangeError(`device id ${d.devId}`);
      this.state.objects.put({
        kind: "device",
        id: d.devId,
        users: 1,
        iommu,
        noSnoop: d.noSnoop,
        behindBridge: d.behindBridge,
      });
    }
    this.handlers = this.commandTable();
  }

  /**
   * An ioctl on the iommufd file. [HOST-UAPI-1] unknown numbers → ENOTTY; the framing of
   * [HOST-UAPI-3]; outputs written back into a copy of the bytes [HOST-UAPI-5].
   */
  ioctl(cmd: number, bytes: Uint8Array, buffers?: Record<string, Uint8Array>): IoctlResult {
    const type = (cmd >>> 8) & 0xff;
    const nr = cmd & 0xff;
    const handler = this.handlers.get(nr);
    if (type !== IOMMUFD_TYPE || cmd >>> 16 !== 0 || nr < IOMMUFD_CMD_BASE || handler === undefined) {
      return { errno: Errno.ENOTTY, bytes: bytes.slice() };
    }
    const mem = new UserMemory(buffers);
    try {
      const user = copyStructIn(handler.layout, bytes);
      const r = handler.run(user, mem);
      const outBytes = r.cmd === undefined ? bytes.slice() : respond(bytes, user, r.cmd);
      return withOut({ errno: r.errno ?? 0, bytes: outBytes }, mem);
    } catch (err) {
      if (err instanceof IoctlError) return withOut({ errno: err.errno, bytes: bytes.slice() }, mem);
      throw err;
    }
  }

  /**
   * An ioctl on a device's VFIO cdev file (the device is the file, so it is named here):
   * VFIO_DEVICE_ATTACH_IOMMUFD_PT and VFIO_DEVICE_DETACH_IOMMUFD_PT. [HOST-UAPI-70]
   */
  deviceIoctl(devId: number, cmd: number, bytes: Uint8Array): IoctlResult {
    if (this.state.objects.get(devId)?.kind !== "device") return { errno: Errno.EBADF, bytes: bytes.slice() };
    try {
      if (cmd === ((VFIO_TYPE << 8) | (VFIO_BASE + 19))) return this.vfioAttach(devId, bytes);
      if (cmd === ((VFIO_TYPE << 8) | (VFIO_BASE + 20))) return this.vfioDetach(devId, bytes);
      return { errno: Errno.ENOTTY, bytes: bytes.slice() };
    } catch (err) {
      if (err instanceof IoctlError) return { errno: err.errno, bytes: bytes.slice() };
      throw err;
    }
  }

  /**
   * The in-kernel attach API (iommufd_device_attach / iommufd_device_replace), which
   * VFIO calls: attach to a free slot (EBUSY if taken), replace an occupied one.
   * Returns the errno and the attached HWPT id. [HOST-HWPT-34]
   */
  attach(
    devId: number,
    pasid: number | undefined,
    ptId: number,
    mode: "attach" | "replace",
  ): { errno: number; hwptId?: number } {
    try {
      const hwptId = attachDevice(this.state, devId, pasid ?? NO_PASID, ptId, mode === "replace");
      return { errno: 0, hwptId };
    } catch (err) {
      if (err instanceof IoctlError) return { errno: err.errno };
      throw err;
    }
  }

  /** A DMA by a host device; never crosses a 4 KiB page. [HOST-XLATE-11] */
  dma(req: HostDmaRequest): DmaResult {
    const offset = Number(req.iova & 0xfffn);
    if (req.len < 0 || offset + req.len > 4096 || (req.write && (req.data?.length ?? -1) !== req.len)) {
      return { status: "aborted" };
    }
    const t = translate(this.state, req);
    if (!t.ok) return { status: "aborted" };
    if (!this.state.memory.contains(t.hpa, req.len)) return { status: "aborted" };
    if (req.write) {
      this.state.memory.write(t.hpa, req.data as Uint8Array);
      return { status: "ok" };
    }
    return { status: "ok", data: this.state.memory.read(t.hpa, req.len) };
  }

  /** Host physical address a request would reach, or undefined if blocked (diagnostics). */
  translate(req: Omit<HostDmaRequest, "len" | "data">): number | undefined {
    const t = translate(this.state, { ...req, len: 1 });
    return t.ok ? t.hpa : undefined;
  }

  /** [HOST-COH-6] Whether these devices (one VM's) can observe non-coherent DMA. */
  nonCoherentDma(devIds: readonly number[]): boolean {
    const devices = this.devices.filter((d) => devIds.includes(d.devId));
    return vmObservesNonCoherentDma(devices, [...this.state.iommus.values()]);
  }

  view(): HostIommufdView {
    const objects: HostIommufdView["objects"] = this.state.objects.all().map((o) => {
      if (o.kind === "device" || o.kind === "ioas") {
        return {
          id: o.id,
          kind: o.kind,
          users: o.users,
          ...(o.kind === "ioas" ? { mappings: o.areas.length } : {}),
        };
      }
      if (o.kind === "hwpt-paging") {
        return {
          id: o.id,
          kind: o.kind,
          users: o.users,
          parent: o.ioasId,
          nestParent: o.nestParent,
          enforceCoherency: o.enforceCoherency,
          auto: o.auto,
        };
      }
      return { id: o.id, kind: o.kind, users: o.users, parent: o.parentId, stage1: o.s1.pgtblAddr };
    });
    const attachments: HostIommufdView["attachments"] = [];
    for (const [devId, map] of [...this.state.attachments].sort((a, b) => a[0] - b[0])) {
      for (const [pasid, hwptId] of [...map].sort((a, b) => a[0] - b[0])) {
        const h = this.state.objects.get(hwptId);
        const nested = h?.kind === "hwpt-nested";
        attachments.push({
          devId,
          ...(pasid === NO_PASID ? {} : { pasid }),
          hwptId,
          kind: nested ? "nested" : "paging",
          ...(nested ? { stage1: h.s1.pgtblAddr } : {}),
        });
      }
    }
    return { objects, attachments };
  }

  /** Host physical address of a paging HWPT's top second-stage table (diagnostics and tests). */
  stage2Root(hwptId: number): number | undefined {
    const h = this.state.objects.get(hwptId);
    return h?.kind === "hwpt-paging" ? h.tables.root : undefined;
  }

  /** Entries in a nested HWPT's host IOTLB (diagnostics and tests). */
  iotlbSize(hwptId: number): number {
    const h = this.state.objects.get(hwptId);
    return h?.kind === "hwpt-nested" ? h.iotlb.size : 0;
  }

  private commandTable(): Map<number, { layout: StructLayout; run: Handler }> {
    const s = this.state;
    const t = new Map<number, { layout: StructLayout; run: Handler }>();
    const def = <T extends object>(
      nr: number,
      layout: StructLayout,
      run: (c: T, mem: UserMemory) => { cmd?: T; errno?: number },
    ) => {
      t.set(nr, {
        layout,
        run: (user, mem) => {
          const r = run(decodeLayout<T>(layout, user.cmd), mem);
          return {
            errno: r.errno,
            cmd: r.cmd === undefined ? undefined : encodeLayout<T>(layout, r.cmd, layout.size),
          };
        },
      });
    };
    def<IommuDestroy>(IommufdCmd.DESTROY, IOMMU_DESTROY_LAYOUT, (c) => {
      destroyObject(s, c.id);
      return {};
    });
    def<IommuIoasAlloc>(IommufdCmd.IOAS_ALLOC, IOMMU_IOAS_ALLOC_LAYOUT, (c) => {
      c.out_ioas_id = ioasAlloc(s, c.flags).id;
      return { cmd: c };
    });
    def<IommuIoasMap>(IommufdCmd.IOAS_MAP, IOMMU_IOAS_MAP_LAYOUT, (c) => {
      c.iova = ioasMap(s, c);
      return { cmd: c };
    });
    def<IommuIoasUnmap>(IommufdCmd.IOAS_UNMAP, IOMMU_IOAS_UNMAP_LAYOUT, (c) => {
      c.length = ioasUnmap(s, c);
      return { cmd: c };
    });
    def<IommuHwptAlloc>(IommufdCmd.HWPT_ALLOC, IOMMU_HWPT_ALLOC_LAYOUT, (c, mem) => {
      c.out_hwpt_id = hwptAlloc(s, c, mem);
      return { cmd: c };
    });
    def<IommuHwInfo>(IommufdCmd.GET_HW_INFO, IOMMU_HW_INFO_LAYOUT, (c, mem) => {
      getHwInfo(s, c, mem);
      return { cmd: c };
    });
    def<IommuHwptInvalidate>(IommufdCmd.HWPT_INVALIDATE, IOMMU_HWPT_INVALIDATE_LAYOUT, (c, mem) => {
      // [HOST-UAPI-60] entry_num is written back on success and on error.
      const r = hwptInvalidate(s, c, mem);
      c.entry_num = r.done;
      return { cmd: c, errno: r.errno };
    });
    return t;
  }

  /** VFIO argsz framing: argsz below minsz → EINVAL; unknown flags → EINVAL; no tail check. */
  private vfioAttach(devId: number, bytes: Uint8Array): IoctlResult {
    const layout = VFIO_DEVICE_ATTACH_IOMMUFD_PT_LAYOUT;
    const a = decodeVfio<VfioDeviceAttachIommufdPt>(layout, bytes, VfioAttachFlags.PASID);
    const withPasid = (a.flags & VfioAttachFlags.PASID) !== 0;
    const pasid = withPasid ? a.pasid : NO_PASID;
    // [HOST-UAPI-72] PASID 0 is the RID's own (IOMMU_NO_PASID): not a PASID to attach.
    if (withPasid && pasid === NO_PASID) return { errno: Errno.EINVAL, bytes: bytes.slice() };
    // [HOST-UAPI-71] VFIO replaces an existing attachment instead of failing.
    const replace = attachedHwpt(this.state, devId, pasid) !== undefined;
    const hwptId = attachDevice(this.state, devId, pasid, a.pt_id, replace);
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(8, hwptId, true);
    return { errno: 0, bytes: out };
  }

  private vfioDetach(devId: number, bytes: Uint8Array): IoctlResult {
    const layout = VFIO_DEVICE_DETACH_IOMMUFD_PT_LAYOUT;
    const d = decodeVfio<VfioDeviceDetachIommufdPt>(layout, bytes, VfioDetachFlags.PASID);
    const pasid = (d.flags & VfioDetachFlags.PASID) !== 0 ? d.pasid : NO_PASID;
    detachDevice(this.state, devId, pasid);
    return { errno: 0, bytes: bytes.slice() };
  }
}

/** [HOST-UAPI-70] VFIO's own framing: minsz, then the PASID field only with the PASID flag. */
function decodeVfio<T extends { argsz: number; flags: number }>(
  layout: StructLayout,
  bytes: Uint8Array,
  pasidFlag: number,
): T {
  if (bytes.length < layout.minSize) throw new IoctlError(Errno.EFAULT, "struct not readable");
  const v = decodeLayout<T>(layout, bytes.subarray(0, layout.minSize));
  if (v.argsz < layout.minSize) throw new IoctlError(Errno.EINVAL, "argsz below minsz");
  if ((v.flags & ~pasidFlag) !== 0) throw new IoctlError(Errno.EINVAL, "unknown VFIO flags");
  if ((v.flags & pasidFlag) !== 0) {
    if (v.argsz < layout.size) throw new IoctlError(Errno.EINVAL, "argsz too small for the PASID");
    if (bytes.length < layout.size) throw new IoctlError(Errno.EFAULT, "PASID field not readable");
    return decodeLayout<T>(layout, bytes.subarray(0, layout.size));
  }
  return v;
}

function withOut(r: IoctlResult, mem: UserMemory): IoctlResult {
  const out = mem.out();
  return out === undefined ? r : { ...r, out };
}
