/**
 * The adapter contract: what a model under test offers the suite.
 * A model is reached only through architected interfaces (guest memory, the DMAR
 * register block, device DMA, and optionally the iommufd host surface), so that a
 * real emulator can be plugged in unchanged. See DESIGN.md, "The model under test".
 *
 * Addresses are bigint at this surface: a DMA's input address may be any 64-bit
 * value (non-canonical ones included). Register values are bigint too.
 */

// ---------------------------------------------------------------------------
// Configuration of a platform (reset)

export type TranslationMode = "legacy" | "scalable";

/** Options of the guest-facing vIOMMU. Each maps to CAP/ECAP bits (see spec/registers.md). */
export interface VIommuConfig {
  /** legacy (RTADDR.TTM = 00) or scalable (TTM = 01) mode support. */
  scalable: boolean;
  /** Guest address width: 39 (3-level), 48 (4-level) or 57 (5-level). Sets MGAW and SAGAW. */
  awBits: 39 | 48 | 57;
  /** CAP.CM: not-present and erroneous entries may be cached; every change needs invalidation. */
  cachingMode: boolean;
  /** ECAP.FSTS: first-stage translation (scalable mode only). */
  firstStage: boolean;
  /** ECAP.SSTS (scalable) / second-stage tables in legacy mode. */
  secondStage: boolean;
  /** ECAP.NEST: nested translation (PGTT = 3). */
  nested: boolean;
  /** ECAP.PT: pass-through. */
  passThrough: boolean;
  /** PASID width in bits (ECAP.PSS = width - 1); 0 = no PASID support (ECAP.PASID = 0). */
  pasidBits: number;
  /** ECAP.SC: snoop control. */
  snoopControl: boolean;
  /** CAP.FS1GP: 1 GiB first-stage pages. */
  fs1gp: boolean;
  /** CAP.FL5LP: 5-level first-stage tables. */
  fl5lp: boolean;
  /** CAP.SLLPS: second-stage large pages (2 MiB, 1 GiB). */
  ssLargePages: { twoMiB: boolean; oneGiB: boolean };
  /** Host address width in bits (the width of physical addresses the IOMMU can output). */
  hawBits: number;
  /** CAP.NFR + 1: number of fault recording registers. */
  faultRecords: number;
  /** ECAP.SRS: supervisor requests. */
  supervisorRequests: boolean;
  /** ECAP.EAFS: extended accessed flag. */
  extendedAccessed: boolean;
  /**
   * ECAP.SSADS: accessed and dirty flags in second-stage entries, which a PASID entry enables with
   * SSADE (scalable mode only). Absent means false, so configurations written before the option
   * existed (protocol 1 clients, recorded traces) keep their meaning.
   */
  secondStageAccessedDirty?: boolean;
}

/** What one host IOMMU offers (iommufd GET_HW_INFO, VT-d payload). */
export interface HostIommuConfig {
  id: string;
  /** Host address width (MGAW + 1 of the host IOMMU). */
  awBits: number;
  nesting: boolean;
  snoopControl: boolean;
  fs1gp: boolean;
  fl5lp: boolean;
  pasidBits: number;
  /** ERRATA_772415_SPR17: no read-only mappings in a nest-parent HWPT. */
  errata772415: boolean;
  /** Vendor of the IOMMU; only "intel-vtd" supports nesting for a VT-d guest. */
  kind: "intel-vtd" | "other";
  supervisorRequests: boolean;
  extendedAccessed: boolean;
}

/** One device on the platform. */
export interface DeviceConfig {
  /** Source id: bus << 8 | devfn. */
  sid: number;
  /** emulated: the vIOMMU emulation translates it; passthrough: the host IOMMU does. */
  kind: "emulated" | "passthrough";
  /** Passed-through devices: which host IOMMU they sit behind and what they can do. */
  host?: {
    iommu: string;
    /** The device can issue no-snoop transactions. */
    noSnoop: boolean;
    /** The device sits behind a PCI bridge (aliased RID). */
    behindBridge: boolean;
    /** Bound through iommufd (cdev) rather than the legacy VFIO container. */
    iommufd: boolean;
  };
}

/** A guest-physical region of the VM, backed by host memory for passed-through devices. */
export interface MemoryRegion {
  gpa: bigint;
  size: bigint;
  /** Read-only for devices (for example ROM); left out of a nest parent on errata IOMMUs. */
  readOnly: boolean;
}

export interface PlatformConfig {
  viommu: VIommuConfig;
  devices: DeviceConfig[];
  /** Guest memory: total size and its regions (RAM, ROM). Addresses outside regions are not memory. */
  memory: { size: bigint; regions: MemoryRegion[] };
  /** Host IOMMUs that passed-through devices sit behind. */
  hostIommus: HostIommuConfig[];
}

// ---------------------------------------------------------------------------
// The platform surface (guest's view)

/**
 * "No PASID", spelled one way across the surface: a request without PASID, or a host attachment
 * of the whole device, has no `pasid` member (on the wire too, docs/protocol.md). A present
 * `pasid` is a PASID, 0 included: never 0, -1 or RID_PASID for "none" (which PASID entry a
 * request without PASID uses is the model's business).
 */
export interface PasidTag {
  /** Present for PASID-tagged requests; absent for requests without PASID. */
  pasid?: number;
  /** Privileged (supervisor) request; only with a PASID. */
  priv?: boolean;
}

export interface DmaRequest extends PasidTag {
  sid: number;
  iova: bigint;
  /** Bytes; a request never crosses a 4 KiB boundary (as on PCIe). */
  len: number;
  write: boolean;
  /** Bytes to write (length len) for a write. */
  data?: Uint8Array;
}

export type DmaResult =
  /** Completed: for a read, the bytes read. */
  | { status: "ok"; data?: Uint8Array }
  /** The IOMMU blocked the request (a fault may have been recorded). */
  | { status: "aborted" };

export interface PlatformSurface {
  writeGuest(gpa: bigint, bytes: Uint8Array): Promise<void>;
  readGuest(gpa: bigint, len: number): Promise<Uint8Array>;
  /** A DMAR register access; width 4 or 8 bytes; off is the offset in the register block. */
  writeReg(off: number, value: bigint, width: 4 | 8): Promise<void>;
  readReg(off: number, width: 4 | 8): Promise<bigint>;
  dma(req: DmaRequest): Promise<DmaResult>;
  /** Optional diagnostics: the host side's attachments. */
  hostView?(): Promise<HostView>;
}

/** The host side, as the VMM left it: which device/PASID is attached to which HWPT. */
export interface HostView {
  attachments: Array<{
    sid: number;
    /** Absent: the whole device (requests without PASID); see PasidTag. */
    pasid?: number;
    hwptId: number;
    kind: "paging" | "nested";
    /** For a nested HWPT: the guest-physical stage-1 table pointer. */
    stage1?: bigint;
  }>;
  /**
   * Optional: the VM can observe non-coherent DMA (and needs WBINVD emulation): one of its
   * passed-through devices can issue no-snoop requests and its IOMMU does not force snooping
   * (spec/coherency.md HOST-COH-6; spec/vmm.md VMM-S2-11). Absent: the model does not say.
   */
  nonCoherentDma?: boolean;
}

// ---------------------------------------------------------------------------
// The host surface (the VMM's view of the host IOMMU)

export interface IoctlResult {
  /** 0 on success, else a Linux errno value (see src/host/errno.ts). */
  errno: number;
  /** The struct as the kernel left it in user memory (outputs written back). */
  bytes: Uint8Array;
  /** Buffers the kernel wrote through user pointers (data_uptr), keyed by the pointer. */
  out?: Record<string, Uint8Array>;
}

export interface HostSurface {
  /** Issue an iommufd command; user buffers named by pointers in the struct are passed in `buffers`. */
  ioctl(cmd: number, bytes: Uint8Array, buffers?: Record<string, Uint8Array>): Promise<IoctlResult>;
  /**
   * A VFIO device ioctl (VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT): the
   * kernel knows the device from the file the ioctl is issued on, here its iommufd device id.
   */
  deviceIoctl?(devId: number, cmd: number, bytes: Uint8Array): Promise<IoctlResult>;
  /** A DMA at host level by a host device (by its iommufd device id), optionally with a PASID. */
  dma(req: HostDmaRequest): Promise<DmaResult>;
}

/** A DMA by a host device, named by its iommufd device id; PASID as in PasidTag. */
export interface HostDmaRequest extends PasidTag {
  devId: number;
  iova: bigint;
  len: number;
  write: boolean;
  data?: Uint8Array;
}

// ---------------------------------------------------------------------------
// Description and the model as a whole

/**
 * Optional limits of the platforms a model can build, beyond `supports` (an emulator with fixed
 * capabilities, devices only on some buses, holes in its RAM). Generators keep every
 * configuration inside them; an absent field means no limit.
 */
export interface PlatformLimits {
  /**
   * vIOMMU option combinations the model can present: a configuration must agree with at least
   * one entry on every field that entry names (fields an entry leaves out are free).
   */
  viommu?: Array<Partial<VIommuConfig>>;
  /** The source ids devices may have. */
  sids?: number[];
  /** Guest-physical ranges that cannot be RAM: memory regions must not overlap them. */
  memoryHoles?: Array<{ gpa: bigint; size: bigint }>;
  /**
   * Known deviations (finding ids) the generators must steer around, so a run can explore past
   * them. Off unless the user asks for it; the model names them in its `version` so every
   * report shows them. Generators reject an id they do not know (src/arbitraries/guest-avoid.ts).
   */
  avoid?: string[];
  /**
   * The passed-through devices the model really has (an emulator driving real host devices):
   * at most `max` of them, each behind one of `hostIommus` with the host side `host`. VMM
   * generators fit their configurations to these (src/arbitraries/vmm-fit.ts); absent, any host
   * IOMMU and host side may be generated (a model of the host, like the reference).
   */
  /**
   * false: DMA reads by emulated devices report completion or abort only, never the bytes (the
   * bytes stay inside an emulator this suite cannot reach, as qemu:nested's L2). Guest-side
   * properties then skip; absent or true: reads return their bytes as `supports.dmaRead` says.
   */
  emulatedReadData?: boolean;
  passthrough?: {
    max: number;
    hostIommus: HostIommuConfig[];
    host: NonNullable<DeviceConfig["host"]>;
    /** Whether guest memory may have read-only regions. */
    readOnlyMemory: boolean;
  };
}

/** Surfaces and features an adapter offers; properties whose needs are not met are skipped. */
export interface ModelDescription {
  name: string;
  version: string;
  /** Limits of the configurations it takes; absent: any configuration `supports` allows. */
  limits?: PlatformLimits;
  /** Configurations it can take. */
  supports: {
    legacy: boolean;
    scalable: boolean;
    awBits: Array<39 | 48 | 57>;
    cachingMode: Array<boolean>;
    firstStage: boolean;
    secondStage: boolean;
    nested: boolean;
    passThrough: boolean;
    /** Devices can issue PASID-tagged requests. */
    pasidRequests: boolean;
    /** Devices can issue writes / reads with arbitrary data. */
    dmaRead: boolean;
    dmaWrite: boolean;
    /** Passed-through devices (a host behind the vIOMMU). */
    passthroughDevices: boolean;
    /** The host surface (iommufd ioctls). */
    hostSurface: boolean;
    hostView: boolean;
    /** The largest number of devices a platform may have. */
    maxDevices: number;
  };
}

export interface Model {
  describe(): Promise<ModelDescription>;
  /** A fresh platform in the given configuration. Rejects with a reason if unsupported. */
  reset(config: PlatformConfig): Promise<void>;
  platform: PlatformSurface;
  host?: HostSurface;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The surface calls: every call that reaches a model's surfaces (describe and close do not),
// as the function it is above. src/contract/surface.ts describes each one once.

export interface SurfaceFunctions {
  reset: Model["reset"];
  writeGuest: PlatformSurface["writeGuest"];
  readGuest: PlatformSurface["readGuest"];
  writeReg: PlatformSurface["writeReg"];
  readReg: PlatformSurface["readReg"];
  dma: PlatformSurface["dma"];
  hostView: NonNullable<PlatformSurface["hostView"]>;
  ioctl: HostSurface["ioctl"];
  deviceIoctl: NonNullable<HostSurface["deviceIoctl"]>;
  hostDma: HostSurface["dma"];
}

export type SurfaceMethod = keyof SurfaceFunctions;

export type ModelFactory = (options?: Record<string, string>) => Promise<Model>;
