/**
 * The reference platform as a whole, one VM: guest memory backed by host memory, the vIOMMU,
 * the host IOMMU (iommufd) and the devices, emulated or passed through, with the VMM glue that
 * keeps the host in step with the guest. src/adapters/reference.ts puts it behind the adapter
 * contract. spec/vmm.md.
 */

import type { DmaRequest, DmaResult, HostView, PlatformConfig } from "../contract/types.ts";
import { type HostDeviceConfig, HostIommufd } from "../host/index.ts";
import { SparseMemory } from "../memory/sparse-memory.ts";
import { hi32, lo32 } from "../paging/index.ts";
import type { CacheCapacities, EvictionChoice } from "../vtd/caches.ts";
import { dmaRequestProblem, VIommu } from "../vtd/viommu.ts";
import { Binder, type BoundDevice } from "./bind.ts";
import { checkCachingMode, checkCompatibility } from "./compatibility.ts";
import { VmmConfigError } from "./errors.ts";
import { type GuestState, GuestTables } from "./guest-entries.ts";
import {
  GuestMemoryView,
  HOST_RAM_BASE,
  HOST_TABLE_POOL,
  hostMemorySize,
  layoutGuestRam,
} from "./guest-memory.ts";
import { HostIo, type HwInfo } from "./host-io.ts";
import { Stage2 } from "./stage2.ts";

/**
 * Called with the parts as they are built, at every construction: the seam through which the
 * mutant gallery (src/adapters/mutants/) wraps or replaces one method of one part.
 */
export interface PlatformBuildHooks {
  /** The host IOMMU, before the VMM's first host call. */
  host?(host: HostIommufd): void;
  /** The whole platform (vIOMMU, binder, host), at the end of construction. */
  platform?(vm: VmPlatform): void;
  /** Replaces the host-device compatibility check (default: checkCompatibility). */
  compatibility?: typeof checkCompatibility;
}

export interface VmPlatformOptions {
  capacities?: CacheCapacities;
  /** The vIOMMU caches' eviction choice; absent: FIFO [VTD-CACHE-13]. */
  eviction?: EvictionChoice;
  hooks?: PlatformBuildHooks;
}

const ERRATA_772415 = 1;

export class VmPlatform {
  readonly hostMemory: SparseMemory;
  readonly guest: GuestMemoryView;
  readonly host: HostIommufd;
  readonly viommu: VIommu;
  /** Bind propagation and invalidation forwarding (public for the build hooks). */
  readonly binder: Binder;
  private readonly passthrough = new Map<number, BoundDevice>();
  private readonly sidOfDev = new Map<number, number>();

  /** Builds the VM; throws VmmConfigError (with the failing check's message) when it cannot. */
  constructor(
    readonly config: PlatformConfig,
    options: VmPlatformOptions = {},
  ) {
    const slots = layoutGuestRam(config.memory);
    checkDevices(config);
    this.hostMemory = new SparseMemory(hostMemorySize(config.memory.size));
    this.guest = new GuestMemoryView(this.hostMemory, Number(config.memory.size), slots);
    const pt = config.devices.filter((d) => d.kind === "passthrough");
    const hostDevices: HostDeviceConfig[] = pt.map((d, i) => ({
      devId: i + 1,
      iommu: d.host?.iommu ?? "",
      noSnoop: d.host?.noSnoop ?? false,
      behindBridge: d.host?.behindBridge ?? false,
    }));
    try {
      this.host = new HostIommufd({
        iommus: config.hostIommus,
        devices: hostDevices,
        memory: this.hostMemory,
        tablePool: { base: HOST_RAM_BASE + Number(config.memory.size), size: HOST_TABLE_POOL },
      });
    } catch (err) {
      throw new VmmConfigError("config", `host: ${(err as Error).message}`);
    }
    options.hooks?.host?.(this.host);
    const io = new HostIo(this.host);
    const nesting = config.viommu.scalable && config.viommu.firstStage;
    const stage2 = new Stage2(io, slots, nesting);
    const bound: BoundDevice[] = [];
    pt.forEach((d, i) => {
      const devId = i + 1;
      const hostSide = d.host as NonNullable<typeof d.host>;
      const iommu = config.hostIommus.find((h) => h.id === hostSide.iommu);
      if (iommu === undefined) throw new VmmConfigError("config", `unknown host IOMMU ${hostSide.iommu}`);
      let info: HwInfo | undefined;
      if (hostSide.iommufd) {
        const r = io.getHwInfo(devId);
        if (r.errno !== 0)
          throw new VmmConfigError("host", `GET_HW_INFO of device ${devId} failed: errno ${r.errno}`);
        info = r.value;
      }
      (options.hooks?.compatibility ?? checkCompatibility)(config.viommu, d.sid, hostSide, iommu, info);
      checkCachingMode(config.viommu, d.sid);
      const hostPasid = (info?.maxPasidLog2 ?? 0) > 0;
      const binding = stage2.attachDevice({
        sid: d.sid,
        devId,
        iommufd: hostSide.iommufd,
        errata: ((info?.vtd?.flags ?? 0) & ERRATA_772415) !== 0,
        hostPasid,
      });
      const dev: BoundDevice = { sid: d.sid, devId, stage2: binding, hostPasid, slots: new Map() };
      bound.push(dev);
      this.passthrough.set(d.sid, dev);
      this.sidOfDev.set(devId, d.sid);
    });
    const tables = new GuestTables(config.viommu, this.guest);
    const state = (): GuestState => ({
      te: this.viommu.registers.translationEnabled,
      root: this.viommu.registers.rootPointer,
    });
    const v = config.viommu;
    this.binder = new Binder(
      bound,
      tables,
      io,
      this.guest,
      { haw: v.hawBits, snoopControl: v.snoopControl, largePages: v.ssLargePages },
      state,
    );
    const binder = this.binder;
    this.viommu = new VIommu(
      config.viommu,
      this.guest,
      {
        ...(options.capacities !== undefined ? { capacities: options.capacities } : {}),
        ...(options.eviction !== undefined ? { eviction: options.eviction } : {}),
      },
      {
        onRootPointer: () => binder.revalidateAll(),
        onTranslationEnable: () => binder.revalidateAll(),
        onInvalidate: (scope, mode) => binder.onInvalidate(scope, mode),
      },
    );
    options.hooks?.platform?.(this);
  }

  /** Host calls of the VMM that failed (diagnostics). */
  get problems(): readonly string[] {
    return this.binder.problems;
  }

  writeGuest(gpa: bigint, bytes: Uint8Array): void {
    this.guest.write(this.checkRange(gpa, bytes.length), bytes);
  }

  readGuest(gpa: bigint, len: number): Uint8Array {
    return this.guest.read(this.checkRange(gpa, len), len);
  }

  /**
   * [VMM-S2-7] A device DMA: an emulated device's goes through the vIOMMU onto guest memory;
   * a passed-through device's goes to the host IOMMU (requests without PASID as the RID's,
   * PASID p as host PASID p) onto host memory, with no fault recorded in the vIOMMU.
   */
  dma(req: DmaRequest): DmaResult {
    const problem = dmaRequestProblem(req);
    if (problem !== undefined) throw new RangeError(problem);
    const dev = this.passthrough.get(req.sid);
    if (dev !== undefined) {
      // [VMM-BIND-13] guest PASID 0 as a PASID has no host counterpart (IOMMU_NO_PASID is the RID).
      if (req.pasid === 0) return { status: "aborted" };
      return this.host.dma({
        devId: dev.devId,
        iova: req.iova,
        len: req.len,
        write: req.write,
        ...(req.data !== undefined ? { data: req.data } : {}),
        ...(req.pasid !== undefined ? { pasid: req.pasid, priv: req.priv ?? false } : {}),
      });
    }
    // [VTD-DMA-1] [VTD-DMA-5] An emulated device's DMA: translated once by the vIOMMU.
    const treq = {
      sid: req.sid,
      priv: req.priv ?? false,
      iovaHi: hi32(req.iova),
      iovaLo: lo32(req.iova),
      write: req.write,
      ...(req.pasid !== undefined ? { pasid: req.pasid } : {}),
    };
    const t = this.viommu.translate(treq);
    // [VTD-DMA-5] [VMM-S2-2] outside memory, or a write to a read-only region: aborted, no fault.
    if (!t.ok || !this.guest.deviceAccessOk(t.hpa, req.len, req.write)) return { status: "aborted" };
    if (req.write) {
      this.guest.write(t.hpa, req.data as Uint8Array);
      return { status: "ok" };
    }
    return { status: "ok", data: this.guest.read(t.hpa, req.len) };
  }

  /**
   * [VMM-BIND-14] The host's attachments, by guest SID; [VMM-S2-11] [HOST-COH-6] whether one of the
   * VM's passed-through devices can make non-coherent DMA visible.
   */
  hostView(): HostView {
    const attachments: HostView["attachments"] = [];
    for (const a of this.host.view().attachments) {
      const sid = this.sidOfDev.get(a.devId);
      if (sid === undefined) continue;
      attachments.push({
        sid,
        ...(a.pasid !== undefined ? { pasid: a.pasid } : {}),
        hwptId: a.hwptId,
        kind: a.kind,
        ...(a.stage1 !== undefined ? { stage1: a.stage1 } : {}),
      });
    }
    return { attachments, nonCoherentDma: this.host.nonCoherentDma([...this.sidOfDev.keys()]) };
  }

  /** The host device id of a passed-through SID. */
  devIdOf(sid: number): number | undefined {
    return this.passthrough.get(sid)?.devId;
  }

  private checkRange(gpa: bigint, len: number): number {
    if (
      gpa < 0n ||
      len < 0 ||
      gpa + BigInt(len) > this.config.memory.size ||
      !this.guest.contains(Number(gpa), len)
    ) {
      throw new RangeError(`guest range 0x${gpa.toString(16)}+${len} is outside guest memory`);
    }
    return Number(gpa);
  }
}

/** [VMM-COMPAT-10] Device list sanity: unique 16-bit SIDs; a passed-through device names its host side. */
function checkDevices(config: PlatformConfig): void {
  const seen = new Set<number>();
  for (const d of config.devices) {
    if (!Number.isInteger(d.sid) || d.sid < 0 || d.sid > 0xffff)
      throw new VmmConfigError("config", `SID ${d.sid} is not a 16-bit value`);
    if (seen.has(d.sid)) throw new VmmConfigError("config", `SID 0x${d.sid.toString(16)} appears twice`);
    seen.add(d.sid);
    if (d.kind === "passthrough" && d.host === undefined)
      throw new VmmConfigError("config", `passed-through device 0x${d.sid.toString(16)} has no host side`);
  }
}
