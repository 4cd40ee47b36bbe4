/**
 * The guest driver: what a guest kernel's IOMMU driver does, through the platform surface only
 * (guest memory, DMAR registers, device DMA). It owns a guest-memory layout, builds tables, sets
 * the root-table pointer and translation enable, runs the invalidation queue (or register-based
 * invalidation when the queue is off) and reads fault records. It works unchanged against the
 * reference model, a stdio model or QEMU: only architectural register sequences, bounded polling.
 */

import type { DmaRequest, PlatformConfig, PlatformSurface } from "../contract/types.ts";
import type { Capabilities } from "../spec/capabilities.ts";
import type { Descriptor } from "../spec/descriptor.ts";
import { ContextTables } from "./context-tables.ts";
import { type DmaReadOutcome, dmaReadIdentify, fillFingerprint, fillFingerprintRange } from "./data-pages.ts";
import { DriverError } from "./errors.ts";
import { type FaultReport, readFaults } from "./faults.ts";
import { afterRootTableChange, describeDescriptor } from "./invalidations.ts";
import { GuestLayout, type LayoutOptions } from "./layout.ts";
import { PAGE_SIZE_BYTES, type PageSize, PageTable, type Perms, type Stage } from "./page-table.ts";
import { PasidTables } from "./pasid-tables.ts";
import type { PollOptions } from "./poll.ts";
import { InvalidationQueueDriver, type QueuedDescriptor, type QueueSetup } from "./queue.ts";
import { invalidateContextByRegister, invalidateIotlbByRegister } from "./register-invalidation.ts";
import { readCapabilities } from "./registers.ts";
import { TableMemory } from "./table-memory.ts";
import { type RootMode, setRootTable, setTranslation } from "./translation.ts";

export interface GuestDriverOptions extends LayoutOptions {
  poll?: PollOptions;
}

/** Page-table levels for an address width: 39 → 3, 48 → 4, 57 → 5. */
export function levelsForWidth(aw: 39 | 48 | 57): 3 | 4 | 5 {
  return aw === 39 ? 3 : aw === 48 ? 4 : 5;
}

/** Context / PASID entry AW field for a number of second-stage levels (AW = levels - 2). */
export function awField(levels: 3 | 4 | 5): number {
  return levels - 2;
}

export class GuestDriver {
  readonly tables: TableMemory;
  readonly queue: InvalidationQueueDriver;
  /** The root table and mode last made active with `enable` / `setRoot`. */
  active?: { root: number; mode: RootMode };

  private constructor(
    readonly platform: PlatformSurface,
    readonly caps: Capabilities,
    readonly layout: GuestLayout,
    readonly poll: PollOptions,
  ) {
    this.tables = new TableMemory(platform, layout.tables);
    this.queue = new InvalidationQueueDriver(platform, layout.queue, layout.status, poll);
  }

  /** A driver for a freshly reset platform with this guest memory map; reads CAP/ECAP. */
  static async create(
    platform: PlatformSurface,
    memory: PlatformConfig["memory"],
    opts: GuestDriverOptions = {},
  ): Promise<GuestDriver> {
    const caps = await readCapabilities(platform);
    return new GuestDriver(platform, caps, new GuestLayout(memory, opts), opts.poll ?? {});
  }

  // ---- tables

  newRootTable(mode: "legacy" | "scalable"): Promise<ContextTables> {
    return ContextTables.create(this.tables, mode);
  }

  newPasidTables(pdts = 0): Promise<PasidTables> {
    return PasidTables.create(this.tables, pdts);
  }

  newPageTable<S extends Stage>(stage: S, levels: 3 | 4 | 5, nonLeaf?: Perms<S>): Promise<PageTable<S>> {
    return PageTable.create(this.tables, { stage, levels, nonLeaf });
  }

  // ---- data pages

  /** A naturally aligned data (DMA target) block of one page size. */
  allocData(size: PageSize = "4K"): number {
    return this.layout.data.allocAligned(PAGE_SIZE_BYTES[size]);
  }

  /** A data page filled with its fingerprint. */
  async newDataPage(tag = 0): Promise<number> {
    const page = this.allocData("4K");
    await fillFingerprint(this.platform, page, tag);
    return page;
  }

  fillData(base: number, bytes = 4096, tag = 0, stride = 4096): Promise<number[]> {
    return fillFingerprintRange(this.platform, base, bytes, tag, stride);
  }

  dmaRead(req: Omit<DmaRequest, "write" | "data">): Promise<DmaReadOutcome> {
    return dmaReadIdentify((r) => this.platform.dma(r), req);
  }

  // ---- control

  /**
   * [VTD-REG-9] Point the hardware at a root table: RTADDR (+TTM), SRTP, wait for RTPS; without
   * CAP.ESRTPS, invalidate the context cache, PASID cache (scalable) and IOTLB globally, as
   * Linux does after a new root pointer.
   */
  async setRoot(root: ContextTables | number, mode?: RootMode): Promise<void> {
    const addr = typeof root === "number" ? root : root.root;
    const m = mode ?? (typeof root === "number" ? "legacy" : root.mode);
    if (m === "scalable" && !this.caps.esrtps && !this.queue.isEnabled)
      throw new DriverError(
        "unsupported",
        "scalable mode without CAP.ESRTPS: set up the invalidation queue first (the global invalidations after SRTP need it)",
      );
    await setRootTable(this.platform, addr, m, this.poll);
    this.active = { root: addr, mode: m };
    if (!this.caps.esrtps && m !== "abort-dma") await this.invalidate(afterRootTableChange(m === "scalable"));
  }

  /** Set the root table and enable translation (GCMD.TE, wait for TES). */
  async enable(root: ContextTables | number, mode?: RootMode): Promise<void> {
    await this.setRoot(root, mode);
    await setTranslation(this.platform, true, this.poll);
  }

  /** [VTD-REG-11] Disable translation (GCMD.TE = 0, wait for TES = 0). */
  async disable(): Promise<void> {
    await setTranslation(this.platform, false, this.poll);
  }

  /**
   * [HARNESS-DRV-6] Program and enable the invalidation queue; 256-bit descriptors by default on a
   * unit offering scalable mode (which needs them), 128-bit otherwise; one page by default.
   */
  async setupQueue(s: Partial<QueueSetup> = {}): Promise<void> {
    if (!this.caps.qi)
      throw new DriverError("unsupported", "the model does not offer queued invalidation (ECAP.QI)");
    await this.queue.setup({ dw: s.dw ?? (this.caps.smts ? 256 : 128), qs: s.qs ?? 0 });
  }

  /**
   * Invalidate and wait for completion: through the queue when it is enabled (descriptors, then a
   * wait descriptor), otherwise through CCMD / the IOTLB registers, which take only context-cache
   * and IOTLB descriptors. A request the hardware refuses (CAIG / IAIG = 0) is an error.
   */
  async invalidate(descs: readonly QueuedDescriptor[]): Promise<void> {
    if (descs.length === 0) return;
    if (this.queue.isEnabled) {
      await this.queue.run(descs);
      return;
    }
    for (const d of descs) await this.invalidateByRegister(d);
  }

  private async invalidateByRegister(d: QueuedDescriptor): Promise<void> {
    if ("raw" in d) throw new DriverError("unsupported", "raw descriptors need the invalidation queue");
    const actual = await this.registerRequest(d);
    if (actual === 0)
      throw new DriverError(
        "unsupported",
        `register-based ${describeDescriptor(d)} refused (actual granularity 0)`,
      );
  }

  private async registerRequest(d: Descriptor): Promise<number | undefined> {
    switch (d.kind) {
      case "context-cache":
        return invalidateContextByRegister(
          this.platform,
          d.g === 1
            ? { granularity: "global" }
            : d.g === 2
              ? { granularity: "domain", did: d.did }
              : { granularity: "device", did: d.did, sid: d.sid, fm: d.fm },
          this.poll,
        );
      case "iotlb":
        return invalidateIotlbByRegister(
          this.platform,
          this.caps.iotlbRegOffset,
          {
            ...(d.g === 1
              ? { granularity: "global" as const }
              : d.g === 2
                ? { granularity: "domain" as const, did: d.did }
                : { granularity: "page" as const, did: d.did, addr: d.addr, am: d.am, ih: d.ih }),
            dr: d.dr,
            dw: d.dw,
          },
          this.poll,
        );
      case "wait":
        return undefined;
      default:
        throw new DriverError("unsupported", `${describeDescriptor(d)} needs the invalidation queue`);
    }
  }

  /** Read (and by default clear) the pending fault records and FSTS. */
  readFaults(opts: { clear?: boolean; width?: 4 | 8 } = {}): Promise<FaultReport> {
    return readFaults(this.platform, this.caps, opts);
  }
}
