/**
 * Layouts of the iommufd and VFIO cdev structs (include/uapi/linux/iommufd.h, vfio.h)
 * with typed encoders (object → bytes) and decoders (bytes → object).
 * Offsets and sizes: spec/host-uapi.md [HOST-UAPI-2].
 */
import { decodeLayout, encodeLayout, F, type StructLayout } from "./layout.ts";

// ---------------------------------------------------------------------------
// iommufd core structs

export interface IommuDestroy {
  size: number;
  id: number;
}
export const IOMMU_DESTROY_LAYOUT: StructLayout = {
  name: "iommu_destroy",
  size: 8,
  minSize: 8,
  fields: [F.u32("size", 0), F.u32("id", 4)],
};

export interface IommuIoasAlloc {
  size: number;
  flags: number;
  out_ioas_id: number;
}
export const IOMMU_IOAS_ALLOC_LAYOUT: StructLayout = {
  name: "iommu_ioas_alloc",
  size: 12,
  minSize: 12,
  fields: [F.u32("size", 0), F.u32("flags", 4), F.u32("out_ioas_id", 8)],
};

export const IoasMapFlags = { FIXED_IOVA: 1 << 0, WRITEABLE: 1 << 1, READABLE: 1 << 2 } as const;

export interface IommuIoasMap {
  size: number;
  flags: number;
  ioas_id: number;
  __reserved: number;
  user_va: bigint;
  length: bigint;
  iova: bigint;
}
export const IOMMU_IOAS_MAP_LAYOUT: StructLayout = {
  name: "iommu_ioas_map",
  size: 40,
  minSize: 40,
  fields: [
    F.u32("size", 0),
    F.u32("flags", 4),
    F.u32("ioas_id", 8),
    F.u32("__reserved", 12),
    F.u64("user_va", 16),
    F.u64("length", 24),
    F.u64("iova", 32),
  ],
};

export interface IommuIoasUnmap {
  size: number;
  ioas_id: number;
  iova: bigint;
  length: bigint;
}
export const IOMMU_IOAS_UNMAP_LAYOUT: StructLayout = {
  name: "iommu_ioas_unmap",
  size: 24,
  minSize: 24,
  fields: [F.u32("size", 0), F.u32("ioas_id", 4), F.u64("iova", 8), F.u64("length", 16)],
};

export const HwptAllocFlags = {
  NEST_PARENT: 1 << 0,
  DIRTY_TRACKING: 1 << 1,
  FAULT_ID_VALID: 1 << 2,
  PASID: 1 << 3,
} as const;

export const HwptDataType = { NONE: 0, VTD_S1: 1, ARM_SMMUV3: 2 } as const;

export interface IommuHwptAlloc {
  size: number;
  flags: number;
  dev_id: number;
  pt_id: number;
  out_hwpt_id: number;
  __reserved: number;
  data_type: number;
  data_len: number;
  data_uptr: bigint;
  fault_id: number;
  __reserved2: number;
}
export const IOMMU_HWPT_ALLOC_LAYOUT: StructLayout = {
  name: "iommu_hwpt_alloc",
  size: 48,
  minSize: 24,
  fields: [
    F.u32("size", 0),
    F.u32("flags", 4),
    F.u32("dev_id", 8),
    F.u32("pt_id", 12),
    F.u32("out_hwpt_id", 16),
    F.u32("__reserved", 20),
    F.u32("data_type", 24),
    F.u32("data_len", 28),
    F.u64("data_uptr", 32),
    F.u32("fault_id", 40),
    F.u32("__reserved2", 44),
  ],
};

export const HwInfoFlags = { INPUT_TYPE: 1 << 0 } as const;
export const HwInfoType = { NONE: 0, DEFAULT: 0, INTEL_VTD: 1, ARM_SMMUV3: 2, TEGRA241_CMDQV: 3 } as const;
export const HwCapabilities = {
  DIRTY_TRACKING: 1 << 0,
  PCI_PASID_EXEC: 1 << 1,
  PCI_PASID_PRIV: 1 << 2,
} as const;

export interface IommuHwInfo {
  size: number;
  flags: number;
  dev_id: number;
  data_len: number;
  data_uptr: bigint;
  /** in_data_type on input (with INPUT_TYPE), out_data_type on output. */
  data_type: number;
  out_max_pasid_log2: number;
  __reserved0: number;
  __reserved1: number;
  __reserved2: number;
  out_capabilities: bigint;
}
export const IOMMU_HW_INFO_LAYOUT: StructLayout = {
  name: "iommu_hw_info",
  size: 40,
  minSize: 32,
  fields: [
    F.u32("size", 0),
    F.u32("flags", 4),
    F.u32("dev_id", 8),
    F.u32("data_len", 12),
    F.u64("data_uptr", 16),
    F.u32("data_type", 24),
    F.u8("out_max_pasid_log2", 28),
    F.u8("__reserved0", 29),
    F.u8("__reserved1", 30),
    F.u8("__reserved2", 31),
    F.u64("out_capabilities", 32),
  ],
};

export const HwptInvalidateDataType = { VTD_S1: 0, ARM_SMMUV3: 1 } as const;

export interface IommuHwptInvalidate {
  size: number;
  hwpt_id: number;
  data_uptr: bigint;
  data_type: number;
  entry_len: number;
  entry_num: number;
  __reserved: number;
}
export const IOMMU_HWPT_INVALIDATE_LAYOUT: StructLayout = {
  name: "iommu_hwpt_invalidate",
  size: 32,
  minSize: 32,
  fields: [
    F.u32("size", 0),
    F.u32("hwpt_id", 4),
    F.u64("data_uptr", 8),
    F.u32("data_type", 16),
    F.u32("entry_len", 20),
    F.u32("entry_num", 24),
    F.u32("__reserved", 28),
  ],
};

// ---------------------------------------------------------------------------
// Intel VT-d driver payloads

export const VtdS1Flags = { SRE: 1n << 0n, EAFE: 1n << 1n, WPE: 1n << 2n } as const;

export interface IommuHwptVtdS1 {
  flags: bigint;
  pgtbl_addr: bigint;
  addr_width: number;
  __reserved: number;
}
export const IOMMU_HWPT_VTD_S1_LAYOUT: StructLayout = {
  name: "iommu_hwpt_vtd_s1",
  size: 24,
  minSize: 24,
  fields: [F.u64("flags", 0), F.u64("pgtbl_addr", 8), F.u32("addr_width", 16), F.u32("__reserved", 20)],
};

export const HwInfoVtdFlags = { ERRATA_772415_SPR17: 1 << 0 } as const;

export interface IommuHwInfoVtd {
  flags: number;
  __reserved: number;
  cap_reg: bigint;
  ecap_reg: bigint;
}
export const IOMMU_HW_INFO_VTD_LAYOUT: StructLayout = {
  name: "iommu_hw_info_vtd",
  size: 24,
  minSize: 24,
  fields: [F.u32("flags", 0), F.u32("__reserved", 4), F.u64("cap_reg", 8), F.u64("ecap_reg", 16)],
};

export const VtdInvFlags = { LEAF: 1 << 0 } as const;

export interface IommuHwptVtdS1Invalidate {
  addr: bigint;
  npages: bigint;
  flags: number;
  __reserved: number;
}
export const IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT: StructLayout = {
  name: "iommu_hwpt_vtd_s1_invalidate",
  size: 24,
  minSize: 24,
  fields: [F.u64("addr", 0), F.u64("npages", 8), F.u32("flags", 16), F.u32("__reserved", 20)],
};

// ---------------------------------------------------------------------------
// VFIO cdev attach/detach (argsz framing; minsz without the PASID field)

export const VfioAttachFlags = { PASID: 1 << 0 } as const;
export const VfioDetachFlags = { PASID: 1 << 0 } as const;

export interface VfioDeviceAttachIommufdPt {
  argsz: number;
  flags: number;
  pt_id: number;
  pasid: number;
}
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT_LAYOUT: StructLayout = {
  name: "vfio_device_attach_iommufd_pt",
  size: 16,
  minSize: 12,
  fields: [F.u32("argsz", 0), F.u32("flags", 4), F.u32("pt_id", 8), F.u32("pasid", 12)],
};

export interface VfioDeviceDetachIommufdPt {
  argsz: number;
  flags: number;
  pasid: number;
}
export const VFIO_DEVICE_DETACH_IOMMUFD_PT_LAYOUT: StructLayout = {
  name: "vfio_device_detach_iommufd_pt",
  size: 12,
  minSize: 8,
  fields: [F.u32("argsz", 0), F.u32("flags", 4), F.u32("pasid", 8)],
};

// ---------------------------------------------------------------------------
// Convenience encoders and decoders (what the VMM glue uses)

type Enc<T> = (value: Partial<T>, size?: number) => Uint8Array;
type Dec<T> = (bytes: Uint8Array) => T;

function codec<T extends object>(layout: StructLayout): { encode: Enc<T>; decode: Dec<T> } {
  return {
    encode: (value, size) => encodeLayout<T>(layout, value, size),
    decode: (bytes) => decodeLayout<T>(layout, bytes),
  };
}

export const destroyCodec = codec<IommuDestroy>(IOMMU_DESTROY_LAYOUT);
export const ioasAllocCodec = codec<IommuIoasAlloc>(IOMMU_IOAS_ALLOC_LAYOUT);
export const ioasMapCodec = codec<IommuIoasMap>(IOMMU_IOAS_MAP_LAYOUT);
export const ioasUnmapCodec = codec<IommuIoasUnmap>(IOMMU_IOAS_UNMAP_LAYOUT);
export const hwptAllocCodec = codec<IommuHwptAlloc>(IOMMU_HWPT_ALLOC_LAYOUT);
export const hwInfoCodec = codec<IommuHwInfo>(IOMMU_HW_INFO_LAYOUT);
export const hwptInvalidateCodec = codec<IommuHwptInvalidate>(IOMMU_HWPT_INVALIDATE_LAYOUT);
export const vtdS1Codec = codec<IommuHwptVtdS1>(IOMMU_HWPT_VTD_S1_LAYOUT);
export const hwInfoVtdCodec = codec<IommuHwInfoVtd>(IOMMU_HW_INFO_VTD_LAYOUT);
export const vtdS1InvalidateCodec = codec<IommuHwptVtdS1Invalidate>(IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT);
export const vfioAttachCodec = codec<VfioDeviceAttachIommufdPt>(VFIO_DEVICE_ATTACH_IOMMUFD_PT_LAYOUT);
export const vfioDetachCodec = codec<VfioDeviceDetachIommufdPt>(VFIO_DEVICE_DETACH_IOMMUFD_PT_LAYOUT);

/** An array of VT-d stage-1 invalidation entries, packed at entry_len (default 24) bytes each. */
export function encodeVtdInvalidateEntries(
  entries: ReadonlyArray<Partial<IommuHwptVtdS1Invalidate>>,
  entryLen = IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT.size,
): Uint8Array {
  const out = new Uint8Array(entries.length * entryLen);
  entries.forEach((e, i) => {
    const one = encodeLayout<IommuHwptVtdS1Invalidate>(IOMMU_HWPT_VTD_S1_INVALIDATE_LAYOUT, e);
    out.set(one.subarray(0, Math.min(one.length, entryLen)), i * entryLen);
  });
  return out;
}
