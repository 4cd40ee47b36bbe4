/**
 * IOAS commands: IOAS_ALLOC, IOAS_MAP, IOAS_UNMAP (drivers/iommu/iommufd/ioas.c,
 * io_pagetable.c) and keeping every paging HWPT of the IOAS in step with its areas.
 */
import { PAGE_SIZE } from "../memory/physical-memory.ts";
import { Errno, fail } from "../spec/iommufd/errno.ts";
import { IoasMapFlags, type IommuIoasMap, type IommuIoasUnmap } from "../spec/iommufd/structs.ts";
import type { IoasArea, IoasObject, PagingHwpt } from "./objects.ts";
import type { HostState } from "./state.ts";

const U64_MAX = (1n << 64n) - 1n;
const PAGE = BigInt(PAGE_SIZE);
const GIB = 1n << 30n;

/** [HOST-UAPI-40] IOAS_ALLOC: flags must be 0. */
export function ioasAlloc(state: HostState, flags: number): IoasObject {
  if (flags !== 0) fail(Errno.EOPNOTSUPP, "IOAS_ALLOC flags");
  return state.objects.add((id) => ({ kind: "ioas", id, users: 0, areas: [] }));
}

/** [HOST-XLATE-5] The input width of a HWPT's stage-2 tables: IOVAs at or above 2^width are reserved. */
export function apertureEnd(h: PagingHwpt): bigint {
  return 1n << BigInt(h.tables.inputBits);
}

/** [HOST-ERRATA-1] The HWPT refuses read-only mappings: a nest parent seen by an errata IOMMU. */
export function prohibitsReadOnly(h: PagingHwpt): boolean {
  if (!h.nestParent) return false;
  if (h.owner.errata772415) return true;
  for (const i of h.iommus) if (i.errata772415) return true;
  return false;
}

/** Write one area into a HWPT's stage-2 tables. [HOST-XLATE-4] */
export function mapAreaInto(h: PagingHwpt, a: IoasArea): void {
  h.tables.map(a.iova, a.userVa, a.length, { read: a.read, write: a.write, snoop: h.enforceCoherency });
  h.hasMappings = true;
}

/** IOAS_MAP; returns the IOVA the mapping was placed at. */
export function ioasMap(state: HostState, cmd: IommuIoasMap): bigint {
  const known = IoasMapFlags.FIXED_IOVA | IoasMapFlags.WRITEABLE | IoasMapFlags.READABLE;
  // [HOST-UAPI-41] unknown flags or a nonzero reserved field.
  if ((cmd.flags & ~known) !== 0 || cmd.__reserved !== 0) fail(Errno.EOPNOTSUPP, "IOAS_MAP flags/reserved");
  if (cmd.iova >= U64_MAX || cmd.length >= U64_MAX) fail(Errno.EOVERFLOW, "IOAS_MAP iova/length");
  const read = (cmd.flags & IoasMapFlags.READABLE) !== 0;
  const write = (cmd.flags & IoasMapFlags.WRITEABLE) !== 0;
  // [HOST-UAPI-42] a mapping must allow reads or writes.
  if (!read && !write) fail(Errno.EINVAL, "IOAS_MAP without READABLE or WRITEABLE");
  const ioas = state.objects.ioas(cmd.ioas_id);
  // [HOST-UAPI-43] page granularity.
  if (cmd.length === 0n) fail(Errno.EINVAL, "IOAS_MAP length 0");
  if (cmd.length % PAGE !== 0n || cmd.user_va % PAGE !== 0n) fail(Errno.EINVAL, "IOAS_MAP not page aligned");
  const fixed = (cmd.flags & IoasMapFlags.FIXED_IOVA) !== 0;
  if (fixed && cmd.iova % PAGE !== 0n) fail(Errno.EINVAL, "IOAS_MAP iova not page aligned");
  if (fixed && cmd.iova + cmd.length - 1n > U64_MAX) fail(Errno.EOVERFLOW, "IOAS_MAP iova + length");
  checkPinnable(state, cmd.user_va, cmd.length);
  const hwpts = state.objects.pagingHwptsOf(ioas.id);
  const iova = fixed ? cmd.iova : allocateIova(ioas, hwpts, cmd.length, cmd.user_va);
  // [HOST-UAPI-44] an IOVA range already mapped cannot be replaced.
  if (fixed && overlapping(ioas, iova, cmd.length).length > 0) fail(Errno.EEXIST, "IOAS_MAP overlap");
  const area: IoasArea = { iova, length: cmd.length, userVa: cmd.user_va, read, write };
  for (const h of hwpts) {
    if (iova + area.length > apertureEnd(h)) fail(Errno.EINVAL, `IOVA beyond HWPT ${h.id}'s aperture`);
    if (!write && prohibitsReadOnly(h)) fail(Errno.EINVAL, `read-only mapping into nest parent ${h.id}`);
  }
  try {
    for (const h of hwpts) mapAreaInto(h, area);
  } catch (err) {
    // Out of table pages midway: undo, so the IOAS and its HWPTs stay in step.
    for (const h of hwpts) h.tables.unmap(area.iova, area.length);
    throw err;
  }
  ioas.areas.push(area);
  ioas.areas.sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
  return iova;
}

/** IOAS_UNMAP; returns the number of bytes unmapped. */
export function ioasUnmap(state: HostState, cmd: IommuIoasUnmap): bigint {
  const ioas = state.objects.ioas(cmd.ioas_id);
  // [HOST-UAPI-46] iova 0 with length U64_MAX unmaps everything, even nothing.
  if (cmd.iova === 0n && cmd.length === U64_MAX) {
    let n = 0n;
    for (const a of [...ioas.areas]) n += removeArea(state, ioas, a);
    return n;
  }
  if (cmd.iova >= U64_MAX || cmd.length >= U64_MAX) fail(Errno.EOVERFLOW, "IOAS_UNMAP iova/length");
  if (cmd.length === 0n) fail(Errno.EINVAL, "IOAS_UNMAP length 0");
  const last = cmd.iova + cmd.length - 1n;
  if (last > U64_MAX) fail(Errno.EOVERFLOW, "IOAS_UNMAP iova + length");
  // [HOST-UAPI-45] whole mappings only; areas are taken in IOVA order and the first one
  // only partly covered stops the unmap (those before it stay unmapped).
  let unmapped = 0n;
  for (const a of overlapping(ioas, cmd.iova, cmd.length)) {
    if (a.iova < cmd.iova || a.iova + a.length - 1n > last) fail(Errno.ENOENT, "IOAS_UNMAP splits a mapping");
    unmapped += removeArea(state, ioas, a);
  }
  if (unmapped === 0n) fail(Errno.ENOENT, "IOAS_UNMAP: nothing mapped there");
  return unmapped;
}

function removeArea(state: HostState, ioas: IoasObject, a: IoasArea): bigint {
  ioas.areas.splice(ioas.areas.indexOf(a), 1);
  for (const h of state.objects.pagingHwptsOf(ioas.id)) {
    h.tables.unmap(a.iova, a.length);
    // [HOST-HWPT-22] a stage-2 change flushes the nested HWPTs built on it.
    for (const child of state.objects.nestedChildrenOf(h.id)) child.iotlb.flushAll();
  }
  return a.length;
}

function overlapping(ioas: IoasObject, iova: bigint, length: bigint): IoasArea[] {
  return ioas.areas.filter((a) => a.iova < iova + length && iova < a.iova + a.length);
}

/**
 * [HOST-XLATE-1] user_va is a host physical address (the VMM's memory is pinned 1:1);
 * it must lie in host memory and outside the IOMMU page-table pool, else EFAULT.
 */
function checkPinnable(state: HostState, userVa: bigint, length: bigint): void {
  const end = userVa + length;
  if (end > BigInt(state.memory.size)) fail(Errno.EFAULT, "user_va beyond host memory");
  if (state.pool.overlaps(Number(userVa), Number(length))) fail(Errno.EFAULT, "user_va in kernel memory");
}

/**
 * [HOST-UAPI-47] Without FIXED_IOVA: the lowest free IOVA, aligned to the mapping's size
 * rounded up to a power of two (at most 1 GiB, at least 4 KiB, at most user_va's own
 * alignment), below every HWPT's aperture. ENOSPC when none fits.
 */
function allocateIova(ioas: IoasObject, hwpts: PagingHwpt[], length: bigint, userVa: bigint): bigint {
  let align = PAGE;
  while (align < length && align < GIB) align <<= 1n;
  while (userVa !== 0n && userVa % align !== 0n) align >>= 1n;
  let limit = 1n << 64n;
  for (const h of hwpts) if (apertureEnd(h) < limit) limit = apertureEnd(h);
  let candidate = 0n;
  for (const a of ioas.areas) {
    if (candidate + length <= a.iova) break;
    const after = a.iova + a.length;
    if (after > candidate) candidate = ((after + align - 1n) / align) * align;
  }
  if (candidate + length > limit) fail(Errno.ENOSPC, "no free IOVA range");
  return candidate;
}
