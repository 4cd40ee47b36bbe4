/**
 * A guest whose devices all translate through second-stage tables, as the VMM must shadow them
 * for passed-through devices: legacy context entries with TT = 0, or scalable-mode PASID entries
 * with PGTT = 2 (RID_PASID 0, and PASID 1 when the vIOMMU has PASIDs). Two tables (DIDs 1 and 2)
 * built from src/arbitraries/vmm-shadow.ts plans, leaves into fingerprinted RAM and ROM pages
 * and outside memory; every device uses the same one, or pass-through (DID 3). Edits and
 * invalidations are a guest driver's; every DMA goes through the VmmCase and is judged there.
 * [VMM-SHADOW-2] [VMM-SHADOW-3] [VMM-SHADOW-5]
 */

import { pasidTag } from "../contract/surface.ts";
import type { DmaRequest, DmaResult, PlatformConfig } from "../contract/types.ts";
import {
  type ContextTables,
  contextDevice,
  contextDomain,
  contextGlobal,
  GuestDriver,
  iotlbDomain,
  iotlbGlobal,
  iotlbPage,
  legacyPassThrough,
  legacyTranslate,
  type PageTable,
  type PasidTables,
  pasidCacheDomain,
  pasidCacheGlobal,
  pasidCachePasid,
  pasidIotlbPasid,
  passThroughEntry,
  scalableContext,
  secondStageEntry,
} from "../driver/index.ts";
import { fingerprintPage } from "../oracle/index.ts";
import type { Descriptor } from "../spec/descriptor.ts";
import {
  INTERRUPT_IOVA,
  LARGE_PAGES,
  type LeafSize,
  OUTSIDE_GPA,
  type ShadowDma,
  type ShadowEdit,
  type ShadowInvalidation,
  type ShadowLeaf,
  type ShadowTablePlan,
  shadowSlotIova,
} from "./shadow-plan.ts";
import type { VmmCase } from "./vmm-case.ts";
import { judgedDma } from "./vmm-world.ts";

const MIB2 = 0x20_0000;
/** DID of a pass-through entry (tables use 1 and 2). */
const PT_DID = 3;

interface Mapped {
  target: number;
  leaf: ShadowLeaf;
}

export class ShadowWorld {
  /** Tag of each fingerprinted page (GPA → tag). */
  readonly tags = new Map<number, number>();
  /** Per table, per slot: what is mapped. */
  private readonly mapped: Array<Array<Mapped | null>>;
  /** Which table every device uses, or pass-through. */
  /** The table the entries use, pass-through instead, and the AW bits flipped in them. */
  cur = { table: 0, passThrough: false, awFlip: 0 };
  private nextTag = 1;
  private romNext = 0;
  private readonly large: number[] = [];
  private largeNext = 0;

  private constructor(
    readonly vc: VmmCase,
    readonly config: PlatformConfig,
    readonly driver: GuestDriver,
    readonly root: ContextTables,
    readonly pasids: PasidTables[],
    readonly tables: PageTable<"second">[],
    readonly plans: readonly ShadowTablePlan[],
  ) {
    this.mapped = plans.map((p) => p.slots.map(() => null));
  }

  get scalable(): boolean {
    return this.config.viommu.scalable;
  }

  get levels(): 3 | 4 {
    return this.config.viommu.awBits === 39 ? 3 : 4;
  }

  get did(): number {
    return this.cur.passThrough ? PT_DID : this.cur.table + 1;
  }

  get pasidRequests(): boolean {
    return this.config.viommu.pasidBits > 0;
  }

  /** Reset, lay out both tables, point every device at table 0 and enable translation. */
  static async build(
    vc: VmmCase,
    config: PlatformConfig,
    plans: readonly ShadowTablePlan[],
    opts: { queue: boolean } = { queue: true },
  ): Promise<ShadowWorld> {
    await vc.model.reset(config);
    const driver = await GuestDriver.create(vc.model.platform, config.memory);
    // Without the queue, invalidations go through CCMD and the IOTLB registers (legacy mode).
    if (opts.queue) await driver.setupQueue();
    const levels = config.viommu.awBits === 39 ? 3 : 4;
    const tables: PageTable<"second">[] = [];
    for (const p of plans) tables.push(await driver.newPageTable("second", levels, p.upper));
    const root = await driver.newRootTable(config.viommu.scalable ? "scalable" : "legacy");
    const pasids: PasidTables[] = [];
    if (config.viommu.scalable)
      for (const d of config.devices) {
        const p = await driver.newPasidTables(0);
        await root.setScalableContext(d.sid, scalableContext(p, { paside: config.viommu.pasidBits > 0 }));
        pasids.push(p);
      }
    const world = new ShadowWorld(vc, config, driver, root, pasids, tables, plans);
    for (const [t, plan] of plans.entries()) {
      for (const [slot, s] of plan.slots.entries())
        if (s.leaf !== null) await world.mapSlot(t, slot, s.leaf, true);
      if (plan.interruptLeaf) {
        const page = await world.ramPage("4K");
        await (tables[t] as PageTable<"second">).map(INTERRUPT_IOVA, page, "4K", { read: true, write: true });
      }
    }
    await world.writeEntries();
    await driver.enable(root);
    return world;
  }

  /** Whether the devices' entries are valid: pass-through, or an AW that CAP.SAGAW supports [VTD-CTX-5] [VTD-PASID-6]. */
  get entriesValid(): boolean {
    const aw = (this.levels - 2) ^ this.cur.awFlip;
    return this.cur.passThrough || (aw >= 1 && aw <= 3 && ((this.driver.caps.sagaw >> aw) & 1) === 1);
  }

  sizeOf(slot: number, table = this.cur.table): LeafSize {
    return this.plans[table]?.slots[slot]?.size ?? "4K";
  }

  /** The IOVA a DMA touches: its slot (or the interrupt page for slot −1), page and word. */
  iovaOf(d: Pick<ShadowDma, "slot" | "page" | "word">): bigint {
    if (d.slot < 0) return INTERRUPT_IOVA + BigInt(d.word * 8);
    const size = this.sizeOf(d.slot);
    const page = size === "2M" ? d.page : 0;
    return shadowSlotIova(d.slot, size) + BigInt(page * 0x1000 + d.word * 8);
  }

  /** Every device's context (legacy) or PASID entries (scalable) for the current choice. */
  private async writeEntries(): Promise<void> {
    const table = this.tables[this.cur.table] as PageTable<"second">;
    const levels = this.levels;
    for (const [i, d] of this.config.devices.entries()) {
      if (!this.scalable) {
        await this.root.setLegacyContext(
          d.sid,
          this.cur.passThrough
            ? legacyPassThrough(PT_DID, levels)
            : { ...legacyTranslate(this.did, table.root, levels), aw: (levels - 2) ^ this.cur.awFlip },
        );
        continue;
      }
      const caps = this.driver.caps;
      const e = this.cur.passThrough
        ? passThroughEntry(caps, { did: PT_DID })
        : {
            ...secondStageEntry(caps, { did: this.did, ssptptr: table.root, levels }),
            aw: (levels - 2) ^ this.cur.awFlip,
          };
      const p = this.pasids[i] as PasidTables;
      await p.setEntry(0, e);
      if (this.pasidRequests) await p.setEntry(1, e);
    }
  }

  /** A fingerprinted target for a leaf: RAM (fresh 4 KiB page, or one of two 2 MiB blocks), ROM or outside. */
  private async targetFor(leaf: ShadowLeaf, size: LeafSize): Promise<number> {
    if (leaf.target === "outside") return OUTSIDE_GPA;
    if (leaf.target === "ram") return this.ramPage(size);
    const rom = this.config.memory.regions.find((r) => r.readOnly);
    if (rom === undefined) return this.ramPage(size);
    const start = Number(rom.gpa);
    if (size === "2M") {
      // The 2 MiB block holding the ROM's start: it may begin in RAM (a 1 MiB ROM).
      const base = start - (start % MIB2);
      for (const p of LARGE_PAGES) if (base + p * 0x1000 >= start) await this.fingerprint(base + p * 0x1000);
      return base;
    }
    const page = start + (this.romNext++ % Number(rom.size / 4096n)) * 4096;
    await this.fingerprint(page);
    return page;
  }

  private async ramPage(size: LeafSize): Promise<number> {
    if (size === "4K") {
      const tag = this.nextTag++;
      const page = await this.driver.newDataPage(tag);
      this.tags.set(page, tag);
      return page;
    }
    // At most two 2 MiB blocks per case (16 MiB of guest memory): remaps alternate between them.
    if (this.large.length < 2) {
      const base = this.driver.allocData("2M");
      for (const p of LARGE_PAGES) await this.fingerprint(base + p * 0x1000);
      this.large.push(base);
    }
    return this.large[this.largeNext++ % this.large.length] as number;
  }

  private async fingerprint(page: number): Promise<void> {
    if (this.tags.has(page)) return;
    const tag = this.nextTag++;
    await this.vc.model.platform.writeGuest(BigInt(page), fingerprintPage(page, tag));
    this.tags.set(page, tag);
  }

  private async mapSlot(t: number, slot: number, leaf: ShadowLeaf, fresh: boolean): Promise<void> {
    const size = this.sizeOf(slot, t);
    const old = this.mapped[t]?.[slot];
    const target = !fresh && old != null ? old.target : await this.targetFor(leaf, size);
    await (this.tables[t] as PageTable<"second">).map(shadowSlotIova(slot, size), target, size, {
      read: leaf.read,
      write: leaf.write,
    });
    (this.mapped[t] as Array<Mapped | null>)[slot] = { target, leaf };
  }

  /** Apply an edit; returns what a driver would invalidate for it (Linux's sequence). */
  async edit(e: ShadowEdit): Promise<Descriptor[]> {
    const t = this.cur.table;
    const oldDid = this.did;
    switch (e.kind) {
      case "remap":
        await this.mapSlot(t, e.slot, e.leaf, true);
        return [this.pageInvalidation(e.slot)];
      case "rights":
        await this.mapSlot(t, e.slot, e.leaf, false);
        return [this.pageInvalidation(e.slot)];
      case "unmap":
        await (this.tables[t] as PageTable<"second">).unmap(
          shadowSlotIova(e.slot, this.sizeOf(e.slot)),
          this.sizeOf(e.slot),
        );
        (this.mapped[t] as Array<Mapped | null>)[e.slot] = null;
        return [this.pageInvalidation(e.slot)];
      case "switch":
        this.cur = { table: t ^ 1, passThrough: false, awFlip: 0 };
        await this.writeEntries();
        return this.entryInvalidations(oldDid);
      case "pass-through":
        this.cur = { table: t, passThrough: !this.cur.passThrough, awFlip: 0 };
        await this.writeEntries();
        return this.entryInvalidations(oldDid);
      case "aw":
        this.cur = { ...this.cur, awFlip: this.cur.awFlip ^ (1 << e.bit) };
        await this.writeEntries();
        return this.entryInvalidations(oldDid);
      case "none":
        return [];
    }
  }

  private pageInvalidation(slot: number): Descriptor {
    const size = this.sizeOf(slot);
    return iotlbPage(this.did, shadowSlotIova(slot, size), size === "2M" ? 9 : 0);
  }

  /** After entries changed: per device context (and PASID-cache) invalidations, then both domains' IOTLB. */
  private entryInvalidations(oldDid: number): Descriptor[] {
    const out: Descriptor[] = [];
    for (const d of this.config.devices) {
      out.push(contextDevice(oldDid, d.sid));
      if (this.scalable) {
        out.push(pasidCachePasid(oldDid, 0));
        if (this.pasidRequests) out.push(pasidCachePasid(oldDid, 1));
      }
    }
    out.push(iotlbDomain(oldDid), iotlbDomain(this.did));
    return out;
  }

  /** The descriptors of an invalidation kind after an edit (its own sequence for "linux"). */
  invalidation(
    inv: ShadowInvalidation,
    ctx: { edit: Descriptor[]; slot: number; oldDid: number; fm: number; sid: number },
  ): Descriptor[] {
    const other = (this.cur.table ^ 1) + 1;
    const size = this.sizeOf(ctx.slot);
    switch (inv) {
      case "iotlb-global":
        return [iotlbGlobal()];
      case "iotlb-domain":
        return [iotlbDomain(this.did)];
      case "iotlb-domain-other":
        return [iotlbDomain(other)];
      case "iotlb-page":
        return [iotlbPage(this.did, shadowSlotIova(ctx.slot, size), size === "2M" ? 9 : 0)];
      case "iotlb-page-other": {
        const o = (ctx.slot + 1) % (this.plans[this.cur.table]?.slots.length ?? 1);
        return [iotlbPage(this.did, shadowSlotIova(o, this.sizeOf(o)), this.sizeOf(o) === "2M" ? 9 : 0)];
      }
      case "pasid-iotlb":
        return [pasidIotlbPasid(this.did, 0)];
      case "context-global":
        return [contextGlobal()];
      case "context-domain":
        return [contextDomain(ctx.oldDid)];
      case "context-device":
        return [contextDevice(ctx.oldDid, ctx.sid, ctx.fm)];
      case "pasid-cache":
        return [pasidCachePasid(ctx.oldDid, 0), pasidCacheDomain(this.did)];
      case "linux":
        return ctx.edit;
      case "te":
      case "none":
        return [];
    }
  }

  /** Everything, globally: context cache, PASID cache (scalable), IOTLB. */
  settle(): Promise<void> {
    return this.driver.invalidate([
      contextGlobal(),
      ...(this.scalable ? [pasidCacheGlobal()] : []),
      iotlbGlobal(),
    ]);
  }

  /** Translation off and on again (SRTP and, without ESRTPS, the global invalidations with it). */
  async toggleTranslation(): Promise<void> {
    await this.driver.disable();
    await this.driver.enable(this.root);
  }

  /** An 8-byte DMA by device `dev`; a write only for a passed-through device (see judgedDma). */
  dma(dev: number, d: ShadowDma): Promise<DmaResult> {
    const sid = (this.config.devices[dev] as { sid: number }).sid;
    const req: DmaRequest = {
      sid,
      iova: this.iovaOf(d),
      len: 8,
      write: false,
      ...pasidTag(d.pasid === 1 && this.pasidRequests ? 1 : undefined, false),
    };
    return judgedDma(this.vc, this.tags, req, d.write && this.config.devices[dev]?.kind === "passthrough");
  }
}
