/**
 * A guest with emulated and passed-through devices, driven as a guest kernel would through the
 * platform surface: per-device PASID tables behind scalable-mode context entries (RID_PASID 0),
 * a pool of first-stage tables whose leaves reach fingerprinted RAM and ROM pages, and the
 * commands of src/arbitraries/vmm-pasid-ops.ts. Every DMA goes through the VmmCase, so the oracle
 * (and, for passed-through devices, stage 2) judges it.
 */

import { pasidTag } from "../contract/surface.ts";
import type { DmaRequest, DmaResult, PlatformConfig } from "../contract/types.ts";
import {
  type ContextTables,
  contextDevice,
  contextGlobal,
  firstStageEntry,
  GuestDriver,
  iotlbDomain,
  iotlbGlobal,
  type PageTable,
  type PasidTables,
  pasidCacheDomain,
  pasidCacheGlobal,
  pasidCachePasid,
  pasidIotlbPasid,
  passThroughEntry,
  requestPasid,
  scalableContext,
} from "../driver/index.ts";
import { fingerprintPage, fingerprintWord } from "../oracle/index.ts";
import type { VmmCase } from "./vmm-case.ts";
import { permittedForPassthrough } from "./vmm-judge.ts";
import { type SLOTS, slotIova, type TablePlan, type VmmCommand } from "./vmm-plan.ts";

export type { SLOTS };

/** What the guest wrote for one (device, PASID), as the world remembers it. */
export interface EntryState {
  present: boolean;
  did?: number;
  table?: number;
  passThrough?: boolean;
}

export class VmmWorld {
  /** Tag of each fingerprinted page (GPA → tag). */
  readonly tags = new Map<number, number>();
  readonly entries = new Map<string, EntryState>();
  private romNext = 0;

  private constructor(
    readonly vc: VmmCase,
    readonly config: PlatformConfig,
    readonly driver: GuestDriver,
    readonly root: ContextTables,
    readonly pasids: PasidTables[],
    readonly tables: PageTable<"first">[],
  ) {}

  /**
   * Reset the platform with config and lay out the guest: contexts, PASID tables, first-stage
   * tables, TE on. With flushFirst, global context-cache and IOTLB invalidations go through the
   * queue before any root pointer is latched, as a driver taking over a unit may: the VMM
   * re-validates with no root table and no translation [VMM-BIND-7]. (No PASID-cache one: until
   * a scalable root is latched the unit is in legacy mode, where that descriptor is invalid.)
   */
  static async build(
    vc: VmmCase,
    config: PlatformConfig,
    plans: readonly TablePlan[],
    o: { flushFirst?: boolean } = {},
  ): Promise<VmmWorld> {
    await vc.model.reset(config);
    const driver = await GuestDriver.create(vc.model.platform, config.memory);
    await driver.setupQueue();
    if (o.flushFirst === true) await driver.invalidate([contextGlobal(), iotlbGlobal()]);
    const root = await driver.newRootTable("scalable");
    const pasids: PasidTables[] = [];
    for (const d of config.devices) {
      const p = await driver.newPasidTables(0);
      await root.setScalableContext(d.sid, scalableContext(p));
      pasids.push(p);
    }
    const tables: PageTable<"first">[] = [];
    for (let t = 0; t < plans.length; t++) tables.push(await driver.newPageTable("first", 4));
    const world = new VmmWorld(vc, config, driver, root, pasids, tables);
    for (const [t, plan] of plans.entries()) {
      for (const [slot, leaf] of plan.leaves.entries()) {
        if (leaf === null) continue;
        const tag = 1 + t * 16 + slot;
        const page = leaf.target === "rom" ? await world.romPage(tag) : await driver.newDataPage(tag);
        world.tags.set(page, tag);
        await (tables[t] as PageTable<"first">).map(slotIova(slot), page, "4K", {
          write: leaf.write,
          user: leaf.user,
        });
      }
    }
    await driver.enable(root);
    return world;
  }

  /** A page of the read-only region, fingerprinted (the guest loads its ROM). */
  private async romPage(tag: number): Promise<number> {
    const rom = this.config.memory.regions.find((r) => r.readOnly);
    if (rom === undefined) throw new Error("no read-only region");
    const page = Number(rom.gpa) + (this.romNext++ % Number(rom.size / 4096n)) * 4096;
    await this.vc.model.platform.writeGuest(BigInt(page), fingerprintPage(page, tag));
    return page;
  }

  sidOf(dev: number): number {
    return (this.config.devices[dev] as { sid: number }).sid;
  }

  isPassthrough(dev: number): boolean {
    return this.config.devices[dev]?.kind === "passthrough";
  }

  entry(dev: number, pasid: number): EntryState {
    return this.entries.get(`${dev}/${pasid}`) ?? { present: false };
  }

  async run(c: VmmCommand): Promise<void> {
    const d = this.driver;
    switch (c.op) {
      case "set":
        for (const dev of c.devs) {
          const table = this.tables[c.table] as PageTable<"first">;
          const e = c.passThrough
            ? passThroughEntry(d.caps, { did: c.did })
            : firstStageEntry(d.caps, {
                did: c.did,
                fsptptr: table.root,
                levels: 4,
                sre: c.sre,
                // EAFE only where the unit reports EAFS: reserved without it [VTD-PASID-4]
                eafe: (c.eafe ?? false) && d.caps.eafs,
              });
          await (this.pasids[dev] as PasidTables).setEntry(c.pasid, e);
          this.entries.set(`${dev}/${c.pasid}`, {
            present: true,
            did: c.did,
            ...(c.passThrough ? { passThrough: true } : { table: c.table }),
          });
        }
        return;
      case "clear":
        for (const dev of c.devs) {
          await (this.pasids[dev] as PasidTables).clearEntry(c.pasid);
          this.entries.set(`${dev}/${c.pasid}`, { present: false });
        }
        return;
      case "pasid-cache": {
        const descs =
          c.g === "global"
            ? [pasidCacheGlobal(), ...(c.iotlb ? [iotlbGlobal()] : [])]
            : c.g === "domain"
              ? [pasidCacheDomain(c.did), ...(c.iotlb ? [iotlbDomain(c.did)] : [])]
              : [pasidCachePasid(c.did, c.pasid), ...(c.iotlb ? [pasidIotlbPasid(c.did, c.pasid)] : [])];
        await d.invalidate(descs);
        return;
      }
      case "pasid-iotlb":
        await d.invalidate([pasidIotlbPasid(c.did, c.pasid)]);
        return;
      case "context":
        await d.invalidate([c.g === "global" ? contextGlobal() : contextDevice(0, this.sidOf(c.dev))]);
        return;
      case "srtp":
        await d.setRoot(this.root);
        return;
      case "te": {
        await d.disable();
        // [VMM-BIND-1] while translation is off, requests without PASID reach the stage 2: every
        // device reads a fingerprinted page by its guest-physical address.
        const page = this.tags.keys().next().value;
        if (page !== undefined)
          for (let dev = 0; dev < this.config.devices.length; dev++)
            await this.dma(dev, 0, BigInt(page) + 0x18n, false, false);
        await d.enable(this.root);
        return;
      }
      case "dma":
        await this.dma(c.dev, c.pasid, slotIova(c.slot) + BigInt(c.offset), c.write, c.priv);
        return;
      case "harvest":
        await this.harvest(c.table, [c.slot]);
        return;
    }
  }

  /**
   * [ORACLE-JUDGE-9] [ORACLE-JUDGE-11] Read back, once each, the entries walks of these slots read
   * in guest table `table` (through the platform, so the oracle judges the flags there), as an OS
   * harvesting accessed and dirty flags does.
   */
  async harvest(table: number, slots: readonly number[]): Promise<void> {
    const t = this.tables[table] as PageTable<"first">;
    const seen = new Set<number>();
    for (const slot of slots)
      for (const e of await t.walk(slotIova(slot))) {
        if (seen.has(e.addr)) continue;
        seen.add(e.addr);
        await this.vc.model.platform.readGuest(BigInt(e.addr), 8);
      }
  }

  /**
   * A DMA of 8 bytes. Writes are made only by passed-through devices and only where at most one
   * landing place is permitted, writing the bytes already there, so memory the oracle does not
   * see change never changes (the write's permission is what is judged).
   */
  async dma(dev: number, pasid: number, iova: bigint, write: boolean, priv: boolean): Promise<DmaResult> {
    const req: DmaRequest = {
      sid: this.sidOf(dev),
      iova,
      len: 8,
      write: false,
      ...pasidTag(requestPasid(pasid), priv),
    };
    return judgedDma(this.vc, this.tags, req, write && this.isPassthrough(dev));
  }
}

/**
 * A DMA of 8 bytes through the VmmCase. A write is made only when `write` is set, the device is
 * passed through and at most one landing place is permitted; it writes the fingerprint already
 * there, so memory the oracle does not see change never changes (the write's permission is what
 * is judged). Otherwise the DMA is a read.
 */
export async function judgedDma(
  vc: VmmCase,
  tags: ReadonlyMap<number, number>,
  req: DmaRequest,
  write: boolean,
): Promise<DmaResult> {
  if (write) {
    const oracle = vc.judge.current;
    const s2 = vc.judge.stage2Of(req.sid);
    if (oracle !== undefined && s2 !== undefined) {
      const oks = permittedForPassthrough(oracle, s2, { ...req, write: true }).filter((p) => p.kind === "ok");
      const addrs = [...new Set(oks.map((p) => (p as { addr: number }).addr))];
      const at = addrs[0];
      if (addrs.length <= 1) {
        const tag = at === undefined ? 0 : (tags.get(at - (at % 4096)) ?? 0);
        const data = new Uint8Array(8);
        new DataView(data.buffer).setBigUint64(0, at === undefined ? 0n : fingerprintWord(at, tag), true);
        return vc.model.platform.dma({ ...req, write: true, data });
      }
    }
  }
  return vc.model.platform.dma(req);
}
