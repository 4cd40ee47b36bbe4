import { describe, expect, it } from "vitest";
import type { Model, VIommuConfig } from "../../src/contract/types.ts";
import {
  firstStageEntry,
  type GuestDriver,
  type PageTable,
  scalableContext,
} from "../../src/driver/index.ts";
import { boot, emulated, IOVA, onBoth, reach, SID } from "./helpers.ts";

const FS = { scalable: true, firstStage: true, pasidBits: 8, supervisorRequests: true } as const;

/**
 * Scalable mode: SID's PASID 1 and its requests without PASID (RID_PASID 0) translate through one
 * first-stage table, DID 4.
 */
async function firstStage(
  model: Model,
  over: Partial<VIommuConfig> = {},
  entry: { sre?: boolean } = {},
): Promise<{ drv: GuestDriver; fs: PageTable<"first"> }> {
  const { drv } = await boot(model, emulated({ ...FS, ...over }));
  const root = await drv.newRootTable("scalable");
  const pasids = await drv.newPasidTables();
  await root.setScalableContext(SID, scalableContext(pasids));
  const fs = await drv.newPageTable("first", 4);
  for (const p of [0, 1])
    await pasids.setEntry(p, firstStageEntry(drv.caps, { did: 4, fsptptr: fs.root, levels: 4, ...entry }));
  await drv.enable(root);
  return { drv, fs };
}

describe("vIOMMU mutants in scalable mode", () => {
  it("[VTD-FS-4] fs1gp-unchecked: without FS1GP a 1 GiB first-stage page faults", async () => {
    const r = await onBoth("fs1gp-unchecked", async (model) => {
      const { drv, fs } = await firstStage(model, { fs1gp: false });
      await fs.map(IOVA, 0, "1G", { write: true, user: true });
      const d = await reach(drv, SID, IOVA + 0x10n);
      const { faults } = await drv.readFaults();
      return { ok: d !== "aborted", reasons: faults.map((f) => f.reason) };
    });
    expect(r.reference).toEqual({ ok: false, reasons: ["SFS_3_FS_RESERVED"] });
    expect(r.mutant).toEqual({ ok: true, reasons: [] });
  });

  it("[VTD-PASID-7] sre-unchecked: a supervisor request through an entry with SRE = 0 faults", async () => {
    const r = await onBoth("sre-unchecked", async (model) => {
      const { drv, fs } = await firstStage(model, {}, { sre: false });
      await fs.map(IOVA, await drv.newDataPage(1), "4K", { write: true, user: true });
      const d = await model.platform.dma({
        sid: SID,
        pasid: 1,
        priv: true,
        iova: IOVA,
        len: 4,
        write: false,
      });
      return d.status;
    });
    expect(r).toEqual({ reference: "aborted", mutant: "ok" });
  });

  it("[VTD-FAULT-2] [VTD-PASID-9] fault-codes-legacy: a scalable-mode write to a read-only page records SGN.6", async () => {
    const r = await onBoth("fault-codes-legacy", async (model) => {
      const { drv, fs } = await firstStage(model);
      await fs.map(IOVA, await drv.newDataPage(1), "4K", { write: false, user: true });
      await model.platform.dma({ sid: SID, iova: IOVA, len: 4, write: true, data: new Uint8Array(4) });
      return (await drv.readFaults()).faults.map((f) => f.reason);
    });
    expect(r).toEqual({ reference: ["SGN_6_NO_WRITE"], mutant: ["LGN_2_NO_WRITE"] });
  });

  it("[VTD-FS-7] [ORACLE-JUDGE-11] fs-accessed-not-set: a translated read sets A in the first-stage entries it used", async () => {
    const r = await onBoth("fs-accessed-not-set", async (model) => {
      const { drv, fs } = await firstStage(model);
      await fs.map(IOVA, await drv.newDataPage(1), "4K", { write: true, user: true });
      await reach(drv, SID, IOVA);
      const pml4e = fs.root + Number((IOVA >> 39n) & 511n) * 8;
      const w = await model.platform.readGuest(BigInt(pml4e), 8);
      return ((w[0] as number) >> 5) & 1;
    });
    expect(r).toEqual({ reference: 1, mutant: 0 });
  });
});
