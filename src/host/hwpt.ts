/**
 * HWPT commands: HWPT_ALLOC, HWPT_INVALIDATE and DESTROY (drivers/iommu/iommufd/
 * hw_pagetable.c, main.c; drivers/iommu/intel/iommu.c, nested.c).
 */
import type { HostIommuConfig } from "../contract/types.ts";
import { Errno, fail } from "../spec/iommufd/errno.ts";
import { decodeLayout } from "../spec/iommufd/layout.ts";
import {
  HwptAllocFlags,
  HwptDataType,
  HwptInvalidateDataType,
  IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT,
  IOMMU_HWPT_VTD_S1_LAYOUT,
  type IommuHwptAlloc,
  type IommuHwptInvalidate,
  type IommuHwptVtdS1,
  type IommuHwptVtdS1Invalidate,
  VtdInvFlags,
  VtdS1Flags,
} from "../spec/iommufd/structs.ts";
import type { UserMemory } from "../spec/iommufd/user-memory.ts";
import { canEnforceCoherency } from "./coherency.ts";
import { stage2Levels } from "./hw-info.ts";
import { apertureEnd, mapAreaInto, prohibitsReadOnly } from "./ioas.ts";
import { NestedIotlb } from "./iotlb.ts";
import type { DeviceObject, IoasObject, NestedHwpt, PagingHwpt } from "./objects.ts";
import { Stage2Tables } from "./stage2-tables.ts";
import type { HostState } from "./state.ts";
import { copyDriverArrayEntry, copyDriverData } from "./uapi/framing.ts";

const U64_MAX = (1n << 64n) - 1n;

/** The IOMMU driver has nesting: a VT-d IOMMU with ECAP.NEST. */
function supportsNesting(i: HostIommuConfig): boolean {
  return i.kind === "intel-vtd" && i.nesting;
}

/** HWPT_ALLOC: returns the new HWPT's id. */
export function hwptAlloc(state: HostState, cmd: IommuHwptAlloc, mem: UserMemory): number {
  // [HOST-UAPI-50] reserved field; data_type and data_len go together.
  if (cmd.__reserved !== 0) fail(Errno.EOPNOTSUPP, "HWPT_ALLOC __reserved");
  if (cmd.data_type === HwptDataType.NONE && cmd.data_len !== 0)
    fail(Errno.EINVAL, "data_len without data_type");
  if (cmd.data_type !== HwptDataType.NONE && cmd.data_len === 0)
    fail(Errno.EINVAL, "data_type without data_len");
  const dev = state.objects.device(cmd.dev_id);
  const pt = state.objects.get(cmd.pt_id);
  // [HOST-UAPI-51] pt_id names an IOAS (paging HWPT) or a paging HWPT (nested); else EINVAL.
  let id: number;
  if (pt?.kind === "ioas") id = allocPaging(state, dev, pt, cmd.flags, cmd.data_len, false).id;
  else if (pt?.kind === "hwpt-paging") id = allocNested(state, dev, pt, cmd, mem).id;
  else return fail(Errno.EINVAL, `pt_id ${cmd.pt_id} is not an IOAS or paging HWPT`);
  if ((cmd.flags & HwptAllocFlags.FAULT_ID_VALID) !== 0) {
    // [HOST-UAPI-55] no fault queue objects exist in this model: the id cannot resolve.
    destroyHwpt(state, id);
    fail(Errno.ENOENT, `fault_id ${cmd.fault_id}`);
  }
  return id;
}

/**
 * A paging (stage-2) HWPT on an IOAS, with the IOAS's mappings written into new tables.
 * [HOST-UAPI-52] [HOST-HWPT-1] [HOST-COH-2]
 */
export function allocPaging(
  state: HostState,
  dev: DeviceObject,
  ioas: IoasObject,
  flags: number,
  dataLen: number,
  auto: boolean,
): PagingHwpt {
  const valid =
    HwptAllocFlags.NEST_PARENT |
    HwptAllocFlags.DIRTY_TRACKING |
    HwptAllocFlags.FAULT_ID_VALID |
    HwptAllocFlags.PASID;
  if ((flags & ~valid) !== 0) fail(Errno.EOPNOTSUPP, "HWPT_ALLOC flags");
  if ((flags & HwptAllocFlags.DIRTY_TRACKING) !== 0)
    fail(Errno.EOPNOTSUPP, "no dirty tracking (ECAP.SLADS = 0)");
  if (dataLen !== 0) fail(Errno.EOPNOTSUPP, "paging HWPT takes no driver data");
  const nestParent = (flags & HwptAllocFlags.NEST_PARENT) !== 0;
  if (nestParent && !supportsNesting(dev.iommu)) fail(Errno.EOPNOTSUPP, "NEST_PARENT without nesting");
  const pasidCompat = (flags & HwptAllocFlags.PASID) !== 0;
  if (pasidCompat && dev.iommu.pasidBits === 0) fail(Errno.EOPNOTSUPP, "PASID flag without PASID support");
  const tables = new Stage2Tables(state.memory, state.pool, stage2Levels(dev.iommu));
  const hwpt: PagingHwpt = {
    kind: "hwpt-paging",
    id: 0,
    users: 0,
    ioasId: ioas.id,
    owner: dev.iommu,
    iommus: new Set(),
    nestParent,
    pasidCompat,
    // [HOST-COH-2] chosen before any mapping, from the allocating device.
    enforceCoherency: canEnforceCoherency(dev.iommu),
    hasMappings: false,
    auto,
    tables,
  };
  // [HOST-HWPT-2] the IOAS's existing mappings must fit the new HWPT.
  for (const a of ioas.areas) {
    if (a.iova + a.length > apertureEnd(hwpt)) {
      tables.destroy();
      fail(Errno.EADDRINUSE, "an IOAS mapping lies beyond the HWPT's aperture");
    }
    if (!a.write && prohibitsReadOnly(hwpt)) {
      tables.destroy();
      fail(Errno.EINVAL, "read-only mapping in the IOAS of an errata nest parent");
    }
  }
  for (const a of ioas.areas) mapAreaInto(hwpt, a);
  ioas.users++;
  return state.objects.add((id) => Object.assign(hwpt, { id }));
}

/** A nested HWPT: a guest stage-1 table on a nest-parent HWPT. [HOST-UAPI-53] [HOST-HWPT-10] */
function allocNested(
  state: HostState,
  dev: DeviceObject,
  parent: PagingHwpt,
  cmd: IommuHwptAlloc,
  mem: UserMemory,
): NestedHwpt {
  if ((cmd.flags & ~(HwptAllocFlags.FAULT_ID_VALID | HwptAllocFlags.PASID)) !== 0) {
    fail(Errno.EOPNOTSUPP, "nested HWPT flags");
  }
  if (cmd.data_len === 0) fail(Errno.EOPNOTSUPP, "nested HWPT needs driver data");
  if (!supportsNesting(dev.iommu)) fail(Errno.EOPNOTSUPP, "device's IOMMU has no nesting");
  if (parent.auto || !parent.nestParent || parent.owner.kind !== dev.iommu.kind) {
    fail(Errno.EINVAL, `HWPT ${parent.id} is not a nest parent`);
  }
  if (cmd.data_type !== HwptDataType.VTD_S1) fail(Errno.EOPNOTSUPP, `data_type ${cmd.data_type}`);
  const raw = copyDriverData(
    mem,
    { type: cmd.data_type, len: cmd.data_len, uptr: cmd.data_uptr },
    HwptDataType.VTD_S1,
    IOMMU_HWPT_VTD_S1_LAYOUT,
  );
  const s1 = decodeLayout<IommuHwptVtdS1>(IOMMU_HWPT_VTD_S1_LAYOUT, raw);
  // [HOST-UAPI-54] unknown stage-1 flags or a nonzero reserved field.
  const known = VtdS1Flags.SRE | VtdS1Flags.EAFE | VtdS1Flags.WPE;
  if ((s1.flags & ~known) !== 0n || s1.__reserved !== 0)
    fail(Errno.EOPNOTSUPP, "iommu_hwpt_vtd_s1 flags/reserved");
  parent.users++;
  return state.objects.add((id) => ({
    kind: "hwpt-nested",
    id,
    users: 0,
    parentId: parent.id,
    owner: dev.iommu,
    pasidCompat: (cmd.flags & HwptAllocFlags.PASID) !== 0,
    s1: { flags: s1.flags, pgtblAddr: s1.pgtbl_addr, addrWidth: s1.addr_width },
    iotlb: new NestedIotlb(),
  }));
}

/**
 * HWPT_INVALIDATE; returns the number of entries processed and the errno, since
 * entry_num is written back either way. [HOST-UAPI-60]..[HOST-UAPI-65]
 */
export function hwptInvalidate(
  state: HostState,
  cmd: IommuHwptInvalidate,
  mem: UserMemory,
): { done: number; errno: number } {
  if (cmd.__reserved !== 0) return { done: 0, errno: Errno.EOPNOTSUPP };
  if (cmd.entry_num !== 0 && (cmd.data_uptr === 0n || cmd.entry_len === 0))
    return { done: 0, errno: Errno.EINVAL };
  const obj = state.objects.get(cmd.hwpt_id);
  if (obj === undefined) return { done: 0, errno: Errno.ENOENT };
  if (obj.kind !== "hwpt-nested") return { done: 0, errno: Errno.EINVAL };
  // [HOST-UAPI-61] the driver checks the type even for a probe (entry_num 0).
  if (cmd.data_type !== HwptInvalidateDataType.VTD_S1) return { done: 0, errno: Errno.EINVAL };
  const array = {
    type: cmd.data_type,
    uptr: cmd.data_uptr,
    entryLen: cmd.entry_len,
    entryNum: cmd.entry_num,
  };
  let done = 0;
  for (let index = 0; index < cmd.entry_num; index++) {
    let e: IommuHwptVtdS1Invalidate;
    try {
      const raw = copyDriverArrayEntry(
        mem,
        array,
        HwptInvalidateDataType.VTD_S1,
        index,
        IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT,
      );
      e = decodeLayout<IommuHwptVtdS1Invalidate>(IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT, raw);
    } catch (err) {
      return { done, errno: errnoOf(err) };
    }
    // [HOST-UAPI-62] unknown flags or reserved → EOPNOTSUPP; [HOST-UAPI-63] bad range → EINVAL.
    if ((e.flags & ~VtdInvFlags.LEAF) !== 0 || e.__reserved !== 0) return { done, errno: Errno.EOPNOTSUPP };
    if (e.addr % 4096n !== 0n || (e.npages === U64_MAX && e.addr !== 0n))
      return { done, errno: Errno.EINVAL };
    // [HOST-UAPI-64] addr 0 with npages U64_MAX flushes everything.
    if (e.npages === U64_MAX) obj.iotlb.flushAll();
    else obj.iotlb.invalidateRange(e.addr, e.npages);
    done++;
  }
  return { done, errno: 0 };
}

/** DESTROY. [HOST-UAPI-31] */
export function destroyObject(state: HostState, id: number): void {
  const obj = state.objects.get(id);
  if (obj === undefined) fail(Errno.ENOENT, `no object ${id}`);
  // Devices are held by their VFIO binding; others by the objects and attachments using them.
  if (obj.kind === "device" || obj.users > 0) fail(Errno.EBUSY, `object ${id} in use`);
  if (obj.kind === "ioas") state.objects.remove(id);
  else destroyHwpt(state, id);
}

/** Free a HWPT nobody uses, dropping its references. */
export function destroyHwpt(state: HostState, id: number): void {
  const obj = state.objects.get(id);
  if (obj?.kind === "hwpt-paging") {
    obj.tables.destroy();
    const ioas = state.objects.get(obj.ioasId);
    if (ioas !== undefined) ioas.users--;
  } else if (obj?.kind === "hwpt-nested") {
    obj.iotlb.flushAll();
    const parent = state.objects.get(obj.parentId);
    if (parent !== undefined) parent.users--;
  }
  state.objects.remove(id);
}

function errnoOf(err: unknown): number {
  if (typeof err === "object" && err !== null && "errno" in err && typeof err.errno === "number")
    return err.errno;
  throw err;
}
