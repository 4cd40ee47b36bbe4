/** Passed-through devices for the VMM and host mutant tests (configurations as in test/vmm). */

import type {
  DeviceConfig,
  HostIommuConfig,
  Model,
  PlatformConfig,
  VIommuConfig,
} from "../../src/contract/types.ts";
import {
  type GuestDriver,
  type PageTable,
  type PasidTables,
  scalableContext,
} from "../../src/driver/index.ts";
import { boot, MiB, vtd } from "./helpers.ts";

export const D1 = 0x10;
export const D2 = 0x11;
export const PIOVA = 0x40_0000n;

export function hostIommu(over: Partial<HostIommuConfig> = {}): HostIommuConfig {
  return {
    id: "iommu0",
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

export function ptDevice(sid: number, iommu = "iommu0", noSnoop = false): DeviceConfig {
  return { sid, kind: "passthrough", host: { iommu, noSnoop, behindBridge: false, iommufd: true } };
}

/** A scalable vIOMMU with first-stage translation (nesting on the host) and passed-through devices. */
export function nestingConfig(
  over: Partial<PlatformConfig> = {},
  v: Partial<VIommuConfig> = {},
): PlatformConfig {
  return {
    viommu: vtd({
      scalable: true,
      cachingMode: true,
      firstStage: true,
      secondStage: false,
      pasidBits: 8,
      snoopControl: false,
      ssLargePages: { twoMiB: true, oneGiB: false },
      hawBits: 48,
      ...v,
    }),
    devices: [ptDevice(D1), ptDevice(D2)],
    memory: { size: 64n * MiB, regions: [{ gpa: 0n, size: 64n * MiB, readOnly: false }] },
    hostIommus: [hostIommu()],
    ...over,
  };
}

/** Scalable mode on, each device with its own PASID directory. */
export async function scalableOn(
  model: Model,
  config: PlatformConfig,
): Promise<{ drv: GuestDriver; pasids: Map<number, PasidTables> }> {
  const { drv } = await boot(model, config);
  const root = await drv.newRootTable("scalable");
  const pasids = new Map<number, PasidTables>();
  for (const d of config.devices) {
    const pt = await drv.newPasidTables();
    pasids.set(d.sid, pt);
    await root.setScalableContext(d.sid, scalableContext(pt));
  }
  await drv.enable(root);
  return { drv, pasids };
}

/** A first-stage table mapping PIOVA onto a fresh fingerprinted page. */
export async function fsMapping(
  drv: GuestDriver,
  tag: number,
): Promise<{ fs: PageTable<"first">; page: number }> {
  const fs = await drv.newPageTable("first", 4);
  const page = await drv.newDataPage(tag);
  await fs.map(PIOVA, page, "4K", { write: true, user: true });
  return { fs, page };
}

export function get<K, V>(m: Map<K, V>, k: K): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`missing ${String(k)}`);
  return v;
}
