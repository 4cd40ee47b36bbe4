/** Running one hand-built scenario on the reference and on a mutant, through the public surfaces. */

import { createMutantModel } from "../../src/adapters/mutants.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { Model, PlatformConfig, VIommuConfig } from "../../src/contract/types.ts";
import { legacyViommu } from "../../src/contract/viommu-options.ts";
import { type ContextTables, GuestDriver, type PageTable } from "../../src/driver/index.ts";

export const MiB = 1n << 20n;
export const DID = 7;
export const SID = 0x0108;
export const SID2 = 0x0109;
export const IOVA = 0x4000_0000n;

export interface Booted {
  model: Model;
  drv: GuestDriver;
}

/** Reset the model and start a guest driver with the queue on. */
export async function boot(model: Model, config: PlatformConfig): Promise<Booted> {
  await model.reset(config);
  const drv = await GuestDriver.create(model.platform, config.memory);
  await drv.setupQueue({ dw: config.viommu.scalable ? 256 : 128, qs: 0 });
  return { model, drv };
}

/** The scenario's result on the reference and on the mutant. */
export async function onBoth<T>(
  id: string,
  scenario: (model: Model) => Promise<T>,
): Promise<{ reference: T; mutant: T }> {
  const ref = await createReferenceModel();
  const mut = await createMutantModel(id);
  try {
    return { reference: await scenario(ref), mutant: await scenario(mut) };
  } finally {
    await ref.close();
    await mut.close();
  }
}

export function vtd(over: Partial<VIommuConfig> = {}): VIommuConfig {
  return legacyViommu({ snoopControl: true, ...over });
}

/** Emulated devices 0x0108 and 0x0109 (functions 0 and 1 of one device) over 64 MiB of RAM. */
export function emulated(over: Partial<VIommuConfig> = {}): PlatformConfig {
  return {
    viommu: vtd(over),
    devices: [
      { sid: SID, kind: "emulated" },
      { sid: SID2, kind: "emulated" },
    ],
    memory: { size: 64n * MiB, regions: [{ gpa: 0n, size: 64n * MiB, readOnly: false }] },
    hostIommus: [],
  };
}

/** Legacy mode, translation on: both devices translate through one 4-level second stage, DID 7. */
export async function legacy(
  model: Model,
  over: Partial<VIommuConfig> = {},
): Promise<Booted & { root: ContextTables; ss: PageTable<"second"> }> {
  const b = await boot(model, emulated(over));
  const root = await b.drv.newRootTable("legacy");
  const ss = await b.drv.newPageTable("second", 4);
  for (const sid of [SID, SID2])
    await root.setLegacyContext(sid, { present: true, tt: 0, ssptptr: ss.root, aw: 2, did: DID });
  await b.drv.enable(root);
  return { ...b, root, ss };
}

/** The page a read reached, or "aborted". */
export async function reach(
  drv: GuestDriver,
  sid: number,
  iova: bigint,
  pasid?: number,
): Promise<number | "aborted"> {
  const r = await drv.dmaRead({ sid, iova, len: 8, ...(pasid === undefined ? {} : { pasid }) });
  return r.status === "aborted" ? "aborted" : (r.hit?.page ?? -1);
}

export const RW = { read: true, write: true } as const;
