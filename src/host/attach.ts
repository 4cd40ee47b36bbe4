/**
 * Attaching a device or one of its PASIDs to a HWPT, replacing and detaching
 * (drivers/iommu/iommufd/device.c; drivers/iommu/intel/iommu.c, nested.c, pasid.c;
 * drivers/vfio/iommufd.c). spec/host-translation.md, HOST-HWPT-30..36.
 */

import { Errno, fail } from "../spec/iommufd/errno.ts";
import { HwptAllocFlags, VtdS1Flags } from "../spec/iommufd/structs.ts";
import { canEnforceCoherency } from "./coherency.ts";
import { stage2Levels } from "./hw-info.ts";
import { allocPaging, destroyHwpt } from "./hwpt.ts";
import type { DeviceObject, Hwpt, IoasObject, PagingHwpt } from "./objects.ts";
import { attachedHwpt, type HostState, hwptById, NO_PASID } from "./state.ts";

/** The stage-2 HWPT behind a HWPT: itself, or a nested HWPT's parent. */
export function pagingOf(state: HostState, h: Hwpt): PagingHwpt {
  if (h.kind === "hwpt-paging") return h;
  const parent = state.objects.get(h.parentId);
  if (parent?.kind !== "hwpt-paging") throw new Error(`nested HWPT ${h.id} lost its parent`);
  return parent;
}

/**
 * Whether dev/pasid may use hwpt; throws the errno if not. Returns the coherency upgrade
 * to apply once the attach goes ahead.
 */
function checkAttach(state: HostState, dev: DeviceObject, pasid: number, h: Hwpt): { upgrade: boolean } {
  const iommu = dev.iommu;
  const rid = attachedHwpt(state, dev.id, NO_PASID);
  // [HOST-HWPT-31] PASID attachments: a valid PASID, a PASID-capable HWPT, and a RID domain that is one too.
  if (pasid !== NO_PASID) {
    if (iommu.pasidBits === 0 || pasid >= 2 ** iommu.pasidBits)
      fail(Errno.EINVAL, `PASID ${pasid} out of range`);
    if (!h.pasidCompat) fail(Errno.EINVAL, `HWPT ${h.id} was not allocated with IOMMU_HWPT_ALLOC_PASID`);
    const ridHwpt = rid === undefined ? undefined : hwptById(state, rid);
    if (ridHwpt !== undefined && !ridHwpt.pasidCompat)
      fail(Errno.EINVAL, "the RID's HWPT is not PASID-capable");
  } else if (!h.pasidCompat) {
    const pasids = [...(state.attachments.get(dev.id)?.keys() ?? [])].filter((p) => p !== NO_PASID);
    if (pasids.length > 0) fail(Errno.EINVAL, "PASIDs attached: the RID's HWPT must be PASID-capable");
  }
  const s2 = pagingOf(state, h);
  // [HOST-HWPT-32] the stage-2 domain must suit this IOMMU.
  if (s2.owner.kind !== iommu.kind) fail(Errno.EINVAL, "HWPT of another IOMMU driver");
  if (s2.tables.levels > stage2Levels(iommu))
    fail(Errno.EINVAL, "HWPT wider than this IOMMU's address width");
  // [HOST-COH-3] an enforcing HWPT needs snoop control.
  if (s2.enforceCoherency && !canEnforceCoherency(iommu))
    fail(Errno.EINVAL, "enforcing HWPT, IOMMU without SC");
  // [HOST-ERRATA-2] an errata IOMMU cannot join a nest parent that holds read-only mappings.
  if (s2.nestParent && iommu.errata772415 && hasReadOnlyAreas(state, s2.ioasId)) {
    fail(Errno.EINVAL, "errata IOMMU and read-only mappings in the nest parent");
  }
  // [HOST-COH-4] a device that can enforce coherency upgrades the HWPT, if the HWPT can be.
  let upgrade = false;
  if (canEnforceCoherency(iommu) && !s2.enforceCoherency) {
    const allSc = [...s2.iommus].every(canEnforceCoherency);
    if (!allSc || s2.hasMappings) fail(Errno.EINVAL, "HWPT cannot be made to enforce coherency");
    upgrade = true;
  }
  // [HOST-HWPT-33] stage-1 checks of a nested HWPT, made when it is attached.
  if (h.kind === "hwpt-nested") {
    if (!iommu.nesting || iommu.kind !== "intel-vtd") fail(Errno.ENODEV, "IOMMU without nested translation");
    const w = h.s1.addrWidth;
    if (w !== 48 && w !== 57) fail(Errno.EINVAL, `stage-1 address width ${w}`);
    if (w === 57 && !iommu.fl5lp) fail(Errno.EINVAL, "5-level stage 1 without CAP.FL5LP");
    if ((h.s1.flags & VtdS1Flags.SRE) !== 0n && !iommu.supervisorRequests)
      fail(Errno.EINVAL, "SRE without SRS");
    if ((h.s1.flags & VtdS1Flags.EAFE) !== 0n && !iommu.extendedAccessed)
      fail(Errno.EINVAL, "EAFE without EAFS");
  }
  return { upgrade };
}

function hasReadOnlyAreas(state: HostState, ioasId: number): boolean {
  const ioas = state.objects.get(ioasId);
  return ioas?.kind === "ioas" && ioas.areas.some((a) => !a.write);
}

/** Make the attachment dev/pasid → h, dropping the old one. */
function bind(state: HostState, dev: DeviceObject, pasid: number, h: Hwpt, upgrade: boolean): void {
  const s2 = pagingOf(state, h);
  if (upgrade) s2.enforceCoherency = true;
  let map = state.attachments.get(dev.id);
  if (map === undefined) {
    map = new Map();
    state.attachments.set(dev.id, map);
  }
  const old = map.get(pasid);
  map.set(pasid, h.id);
  h.users++;
  if (old !== undefined) release(state, old);
  refreshIommus(state, s2);
  // [HOST-HWPT-23] the IOTLB of the new attachment starts empty.
  if (h.kind === "hwpt-nested") h.iotlb.flushAll();
}

/** Drop one attachment's reference; an auto HWPT goes with its last one. [HOST-HWPT-23] */
function release(state: HostState, hwptId: number): void {
  const old = hwptById(state, hwptId);
  if (old === undefined) return;
  old.users--;
  if (old.kind === "hwpt-nested") old.iotlb.flushAll();
  if (old.kind === "hwpt-paging" && old.auto && old.users === 0) destroyHwpt(state, old.id);
  else refreshIommus(state, pagingOf(state, old));
}

/** The IOMMUs a stage-2 domain is attached through: those of the devices using it or its children. */
function refreshIommus(state: HostState, s2: PagingHwpt): void {
  s2.iommus.clear();
  for (const [devId, map] of state.attachments) {
    const dev = state.objects.get(devId);
    if (dev?.kind !== "device") continue;
    for (const hwptId of map.values()) {
      const h = hwptById(state, hwptId);
      if (h !== undefined && pagingOf(state, h) === s2) s2.iommus.add(dev.iommu);
    }
  }
}

/**
 * iommufd_device_attach (replace = false) and iommufd_device_replace (replace = true).
 * Returns the id of the HWPT now attached (an automatic one when ptId is an IOAS).
 * [HOST-HWPT-30]
 */
export function attachDevice(
  state: HostState,
  devId: number,
  pasid: number,
  ptId: number,
  replace: boolean,
): number {
  const dev = state.objects.device(devId);
  const current = attachedHwpt(state, devId, pasid);
  // [HOST-HWPT-34] attach needs a free slot; replace needs an occupied one.
  if (!replace && current !== undefined) fail(Errno.EBUSY, `device ${devId} PASID ${pasid} already attached`);
  if (replace && current === undefined) fail(Errno.EINVAL, `device ${devId} PASID ${pasid} not attached`);
  const pt = state.objects.get(ptId);
  if (pt === undefined) fail(Errno.ENOENT, `no object ${ptId}`);
  if (pt.kind === "ioas") return attachAuto(state, dev, pasid, pt);
  if (pt.kind !== "hwpt-paging" && pt.kind !== "hwpt-nested")
    fail(Errno.EINVAL, `object ${ptId} is not attachable`);
  if (current === pt.id) return pt.id;
  const { upgrade } = checkAttach(state, dev, pasid, pt);
  bind(state, dev, pasid, pt, upgrade);
  return pt.id;
}

/**
 * [HOST-HWPT-35] Attaching to an IOAS: reuse the first automatic HWPT of that IOAS the
 * device can join, else allocate a new one (PASID-capable for a PASID).
 */
function attachAuto(state: HostState, dev: DeviceObject, pasid: number, ioas: IoasObject): number {
  const current = attachedHwpt(state, dev.id, pasid);
  for (const h of state.objects.pagingHwptsOf(ioas.id)) {
    if (!h.auto) continue;
    if (current === h.id) return h.id;
    try {
      const { upgrade } = checkAttach(state, dev, pasid, h);
      bind(state, dev, pasid, h, upgrade);
      return h.id;
    } catch (err) {
      if ((err as { errno?: number }).errno !== Errno.EINVAL) throw err;
    }
  }
  const flags = pasid !== NO_PASID ? HwptAllocFlags.PASID : 0;
  const h = allocPaging(state, dev, ioas, flags, 0, true);
  try {
    const { upgrade } = checkAttach(state, dev, pasid, h);
    bind(state, dev, pasid, h, upgrade);
  } catch (err) {
    destroyHwpt(state, h.id);
    throw err;
  }
  return h.id;
}

/** iommufd_device_detach: after it the device or PASID blocks DMA. Not attached: nothing. [HOST-HWPT-36] */
export function detachDevice(state: HostState, devId: number, pasid: number): void {
  state.objects.device(devId);
  const map = state.attachments.get(devId);
  const current = map?.get(pasid);
  if (map === undefined || current === undefined) return;
  map.delete(pasid);
  release(state, current);
}
