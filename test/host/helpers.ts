/** Fixtures for the host IOMMU tests: a host, ioctl calls by struct, guest stage-1 tables. */

import type { HostIommuConfig } from "../../src/contract/types.ts";
import { type HostDeviceConfig, HostIommufd } from "../../src/host/host-iommufd.ts";
import { writeU64 } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import {
  IOMMU_DESTROY,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from "../../src/spec/iommufd/ioctl-numbers.ts";
import {
  destroyCodec,
  HwptAllocFlags,
  HwptDataType,
  hwptAllocCodec,
  IoasMapFlags,
  ioasAllocCodec,
  ioasMapCodec,
  VfioAttachFlags,
  VfioDetachFlags,
  vfioAttachCodec,
  vfioDetachCodec,
  vtdS1Codec,
} from "../../src/spec/iommufd/structs.ts";

export const MiB = 1024 * 1024;

export function iommu(over: Partial<HostIommuConfig> = {}): HostIommuConfig {
  return {
    id: "dmar0",
    awBits: 48,
    nesting: true,
    snoopControl: true,
    fs1gp: true,
    fl5lp: false,
    pasidBits: 20,
    errata772415: false,
    kind: "intel-vtd",
    supervisorRequests: true,
    extendedAccessed: true,
    ...over,
  };
}

export function device(devId: number, over: Partial<HostDeviceConfig> = {}): HostDeviceConfig {
  return { devId, iommu: "dmar0", noSnoop: false, behindBridge: false, ...over };
}

/** A host with 64 MiB of memory (page tables in the top 16 MiB). */
export function makeHost(
  iommus: HostIommuConfig[] = [iommu()],
  devices: HostDeviceConfig[] = [device(1)],
): { host: HostIommufd; memory: SparseMemory } {
  const memory = new SparseMemory(64 * MiB);
  return { host: new HostIommufd({ iommus, devices, memory }), memory };
}

export function expectOk(r: { errno: number }): void {
  if (r.errno !== 0) throw new Error(`expected success, got errno ${r.errno}`);
}

export function u32At(bytes: Uint8Array, off: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(off, true);
}

export function ioasAlloc(host: HostIommufd): number {
  const r = host.ioctl(IOMMU_IOAS_ALLOC, ioasAllocCodec.encode({}));
  expectOk(r);
  return ioasAllocCodec.decode(r.bytes).out_ioas_id;
}

export function ioasMap(
  host: HostIommufd,
  ioas: number,
  iova: bigint,
  userVa: bigint,
  length: bigint,
  perm: "rw" | "r" | "w" = "rw",
): number {
  let flags = IoasMapFlags.FIXED_IOVA;
  if (perm.includes("r")) flags |= IoasMapFlags.READABLE;
  if (perm.includes("w")) flags |= IoasMapFlags.WRITEABLE;
  return host.ioctl(
    IOMMU_IOAS_MAP,
    ioasMapCodec.encode({ flags, ioas_id: ioas, iova, user_va: userVa, length }),
  ).errno;
}

export function hwptAlloc(
  host: HostIommufd,
  devId: number,
  ptId: number,
  flags = 0,
): { errno: number; id: number } {
  const r = host.ioctl(IOMMU_HWPT_ALLOC, hwptAllocCodec.encode({ flags, dev_id: devId, pt_id: ptId }));
  return { errno: r.errno, id: hwptAllocCodec.decode(r.bytes).out_hwpt_id };
}

export const S1_PTR = 0x7000_0000n;

/** Allocate a nested VTD_S1 HWPT; the payload travels in a user buffer at S1_PTR. */
export function nestedAlloc(
  host: HostIommufd,
  devId: number,
  parent: number,
  s1: { pgtbl: bigint; addrWidth?: number; flags?: bigint; reserved?: number },
  opts: { flags?: number; dataLen?: number; dataType?: number } = {},
): { errno: number; id: number } {
  const payload = vtdS1Codec.encode({
    flags: s1.flags ?? 0n,
    pgtbl_addr: s1.pgtbl,
    addr_width: s1.addrWidth ?? 48,
    __reserved: s1.reserved ?? 0,
  });
  const r = host.ioctl(
    IOMMU_HWPT_ALLOC,
    hwptAllocCodec.encode({
      flags: opts.flags ?? 0,
      dev_id: devId,
      pt_id: parent,
      data_type: opts.dataType ?? HwptDataType.VTD_S1,
      data_len: opts.dataLen ?? 24,
      data_uptr: S1_PTR,
    }),
    { [`0x${S1_PTR.toString(16)}`]: payload },
  );
  return { errno: r.errno, id: hwptAllocCodec.decode(r.bytes).out_hwpt_id };
}

export function destroy(host: HostIommufd, id: number): number {
  return host.ioctl(IOMMU_DESTROY, destroyCodec.encode({ id })).errno;
}

export function vfioAttach(
  host: HostIommufd,
  devId: number,
  ptId: number,
  pasid?: number,
): { errno: number; pt: number } {
  const bytes = vfioAttachCodec.encode(
    pasid === undefined ? { pt_id: ptId } : { flags: VfioAttachFlags.PASID, pt_id: ptId, pasid },
  );
  const r = host.deviceIoctl(devId, VFIO_DEVICE_ATTACH_IOMMUFD_PT, bytes);
  return { errno: r.errno, pt: u32At(r.bytes, 8) };
}

export function vfioDetach(host: HostIommufd, devId: number, pasid?: number): number {
  const bytes = vfioDetachCodec.encode(pasid === undefined ? {} : { flags: VfioDetachFlags.PASID, pasid });
  return host.deviceIoctl(devId, VFIO_DEVICE_DETACH_IOMMUFD_PT, bytes).errno;
}

export const NEST_PARENT = HwptAllocFlags.NEST_PARENT;
export const ALLOC_PASID = HwptAllocFlags.PASID;

/** First-stage entry bits (VT-d §9.7). */
export const FS = { P: 1n, RW: 2n, US: 4n, PS: 1n << 7n } as const;

/**
 * Write a 4-level guest first-stage mapping iova → gpa into guest memory, where guest
 * memory is host memory at hostBase + gpa (the stage 2 of the tests maps it so).
 * Tables are at guest-physical tableGpa, +0x1000, +0x2000, +0x3000.
 */
export function writeGuestStage1(
  memory: SparseMemory,
  hostBase: number,
  tableGpa: number,
  iova: bigint,
  gpa: bigint,
  leafBits: bigint = FS.P | FS.RW | FS.US,
): void {
  const idx = (level: number) => Number((iova >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
  for (let level = 4; level >= 1; level--) {
    const table = tableGpa + (4 - level) * 0x1000;
    const entryHpa = hostBase + table + idx(level) * 8;
    const value = level === 1 ? (gpa & ~0xfffn) | leafBits : BigInt(table + 0x1000) | FS.P | FS.RW | FS.US;
    writeU64(memory, entryHpa, value);
  }
}
