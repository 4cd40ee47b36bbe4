/** Configurations and a guest-driver setup for the VMM tests (through the public surfaces). */

import { createReferenceModel } from "../../src/adapters/reference.ts";
import type {
  DeviceConfig,
  HostIommuConfig,
  Model,
  PlatformConfig,
  VIommuConfig,
} from "../../src/contract/types.ts";
import { type ContextTables, GuestDriver, type PasidTables } from "../../src/driver/index.ts";

export const MiB = 1n << 20n;

/** A scalable-mode vIOMMU offering first-stage translation (the nesting case). */
export function fsViommu(over: Partial<VIommuConfig> = {}): VIommuConfig {
  return {
    scalable: true,
    awBits: 48,
    cachingMode: true,
    firstStage: true,
    secondStage: false,
    nested: false,
    passThrough: true,
    pasidBits: 8,
    snoopControl: false,
    fs1gp: false,
    fl5lp: false,
    ssLargePages: { twoMiB: true, oneGiB: false },
    hawBits: 48,
    faultRecords: 4,
    supervisorRequests: false,
    extendedAccessed: false,
    ...over,
  };
}

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

export function ptDevice(
  sid: number,
  iommu = "iommu0",
  over: Partial<NonNullable<DeviceConfig["host"]>> = {},
): DeviceConfig {
  return {
    sid,
    kind: "passthrough",
    host: { iommu, noSnoop: false, behindBridge: false, iommufd: true, ...over },
  };
}

export function platformConfig(over: Partial<PlatformConfig> = {}): PlatformConfig {
  return {
    viommu: fsViommu(),
    devices: [{ sid: 0x08, kind: "emulated" }, ptDevice(0x10)],
    memory: { size: 64n * MiB, regions: [{ gpa: 0n, size: 64n * MiB, readOnly: false }] },
    hostIommus: [hostIommu()],
    ...over,
  };
}

/** A reset reference model and a guest driver with the queue on (256-bit descriptors unless legacy). */
export async function boot(
  config: PlatformConfig,
  dw: 128 | 256 = 256,
): Promise<{ model: Model; drv: GuestDriver }> {
  const model = await createReferenceModel();
  await model.reset(config);
  const drv = await GuestDriver.create(model.platform, config.memory);
  await drv.setupQueue({ dw, qs: 0 });
  return { model, drv };
}

/**
 * Scalable mode, translation on, every SID given a context entry (PASIDE, RID_PASID 0) with its
 * own PASID directory.
 */
export async function scalable(
  config: PlatformConfig,
): Promise<{ model: Model; drv: GuestDriver; root: ContextTables; pasids: Map<number, PasidTables> }> {
  const { model, drv } = await boot(config);
  const root = await drv.newRootTable("scalable");
  const pasids = new Map<number, PasidTables>();
  for (const d of config.devices) {
    const pt = await drv.newPasidTables();
    pasids.set(d.sid, pt);
    await root.setScalableContext(d.sid, {
      present: true,
      paside: true,
      pdts: 0,
      pasidDirPtr: pt.dir,
      ridPasid: 0,
    });
  }
  await drv.enable(root);
  return { model, drv, root, pasids };
}

export function at<K, V>(m: Map<K, V>, k: K): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`missing ${String(k)}`);
  return v;
}
