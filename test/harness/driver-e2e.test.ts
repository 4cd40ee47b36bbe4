/**
 * The guest driver against the reference model, end to end: only the platform surface is used.
 */
import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { PlatformConfig, VIommuConfig } from "../../src/contract/types.ts";
import { awField, GuestDriver } from "../../src/driver/driver.ts";
import {
  firstStageEntry,
  passThroughEntry,
  scalableContext,
  secondStageEntry,
} from "../../src/driver/entries.ts";
import type { DriverError } from "../../src/driver/errors.ts";
import * as inv from "../../src/driver/invalidations.ts";
import { TT } from "../../src/spec/context-entry.ts";
import { LegacyFault, ScalableFault } from "../../src/spec/fault-reasons.ts";
import { PGTT } from "../../src/spec/pasid-entry.ts";
import { platformConfig } from "./driver-fixtures.ts";

const LEGACY: Partial<VIommuConfig> = {
  scalable: false,
  firstStage: false,
  pasidBits: 0,
  supervisorRequests: false,
  fs1gp: false,
  fl5lp: false,
};

async function boot(config: PlatformConfig) {
  const model = await createReferenceModel();
  await model.reset(config);
  const driver = await GuestDriver.create(model.platform, config.memory, { poll: { maxPolls: 20 } });
  return { model, driver };
}

describe("guest driver on the reference model", () => {
  it("[HARNESS-DRV-2] [HARNESS-DRV-5] [VTD-SS-3] legacy second-stage translation reaches the mapped page", async () => {
    const { driver: d } = await boot(platformConfig(LEGACY));
    const rt = await d.newRootTable("legacy");
    const ss = await d.newPageTable("second", 4);
    const page = await d.newDataPage(1);
    const ro = await d.newDataPage(2);
    await ss.map(0x4000_0000n, page, "4K", { read: true, write: true });
    await ss.map(0x4000_1000n, ro, "4K", { read: true, write: false });
    await rt.setLegacyContext(0x0108, {
      present: true,
      tt: TT.TRANSLATE,
      ssptptr: ss.root,
      aw: awField(4),
      did: 7,
    });
    await d.setupQueue();
    await d.enable(rt);
    const r = await d.dmaRead({ sid: 0x0108, iova: 0x4000_0123n, len: 32 });
    expect(r).toMatchObject({ status: "ok", hit: { page, gpa: page + 0x123, tag: 1 } });
    const w = await d.platform.dma({
      sid: 0x0108,
      iova: 0x4000_0040n,
      len: 4,
      write: true,
      data: Uint8Array.of(1, 2, 3, 4),
    });
    expect(w.status).toBe("ok");
    expect(Array.from(await d.platform.readGuest(BigInt(page + 0x40), 4))).toEqual([1, 2, 3, 4]);
    // Read-only page: a write is blocked and recorded as LGN.2.
    const blocked = await d.platform.dma({
      sid: 0x0108,
      iova: 0x4000_1000n,
      len: 8,
      write: true,
      data: new Uint8Array(8),
    });
    expect(blocked.status).toBe("aborted");
    const f = await d.readFaults();
    expect(f.faults.map((x) => [x.record.fr, x.record.sid, x.record.fi, x.record.t1])).toEqual([
      [LegacyFault.LGN_2_NO_WRITE, 0x0108, 0x4000_1000n, false],
    ]);
  });

  it("[HARNESS-DRV-11] [VTD-FAULT-5] a device without a context entry faults with LCT.2, read back and cleared", async () => {
    const { driver: d } = await boot(platformConfig(LEGACY));
    const rt = await d.newRootTable("legacy");
    await rt.setLegacyContext(0x0108, {
      present: true,
      tt: TT.PASS_THROUGH,
      ssptptr: 0,
      aw: awField(4),
      did: 1,
    });
    await d.enable(rt);
    expect((await d.platform.dma({ sid: 0x0110, iova: 0x5000n, len: 8, write: false })).status).toBe(
      "aborted",
    );
    const f = await d.readFaults();
    expect(f.status.ppf).toBe(true);
    expect(f.faults).toHaveLength(1);
    expect(f.faults[0]).toMatchObject({
      reason: "LCT_2_CONTEXT_NOT_PRESENT",
      record: { sid: 0x0110, fi: 0x5000n, t1: true },
    });
    expect((await d.readFaults()).faults).toEqual([]);
  });

  it("[HARNESS-DRV-5] [VTD-CTX-1] legacy pass-through: the DMA address is the guest-physical address", async () => {
    const { driver: d } = await boot(platformConfig(LEGACY));
    const rt = await d.newRootTable("legacy");
    const page = await d.newDataPage(3);
    await rt.setLegacyContext(0x0010, {
      present: true,
      tt: TT.PASS_THROUGH,
      ssptptr: 0,
      aw: awField(4),
      did: 2,
    });
    await d.enable(rt);
    expect(await d.dmaRead({ sid: 0x0010, iova: BigInt(page + 8), len: 8 })).toMatchObject({
      status: "ok",
      hit: { page, tag: 3 },
    });
  });

  it("[HARNESS-DRV-2] [VTD-FS-6] [VTD-PASID-3] scalable first-stage translation with and without PASID", async () => {
    const { driver: d } = await boot(platformConfig());
    const rt = await d.newRootTable("scalable");
    const pasids = await d.newPasidTables(0);
    const fs = await d.newPageTable("first", 4);
    const a = await d.newDataPage(10);
    const big = d.allocData("2M");
    await d.fillData(big, 2 << 20, 11, 1 << 20);
    await fs.map(0x7000_0000n, a, "4K", { write: true, user: true });
    await fs.map(0x8000_0000n, big, "2M", { write: false, user: true });
    const entry = firstStageEntry(d.caps, { did: 9, fsptptr: fs.root, levels: 4, sre: true });
    await pasids.setEntry(0, entry); // RID_PASID 0: requests without PASID
    await pasids.setEntry(42, entry);
    await rt.setScalableContext(0x0290, scalableContext(pasids, { ridPasid: 0 }));
    await d.setupQueue();
    await d.enable(rt);
    expect(await d.dmaRead({ sid: 0x0290, iova: 0x7000_0010n, len: 16 })).toMatchObject({
      hit: { page: a, tag: 10 },
    });
    expect(await d.dmaRead({ sid: 0x0290, pasid: 42, iova: 0x8010_0000n, len: 8 })).toMatchObject({
      hit: { page: big + 0x10_0000, tag: 11 },
    });
    // Unknown PASID: its PASID-table slot is empty, SPT.2.
    expect(
      (await d.platform.dma({ sid: 0x0290, pasid: 43, iova: 0x7000_0000n, len: 8, write: false })).status,
    ).toBe("aborted");
    const f = await d.readFaults();
    expect(f.faults.map((x) => [x.record.fr, x.record.pv, x.record.pp])).toEqual([
      [ScalableFault.SPT_2_PASID_ENTRY_NOT_PRESENT, 43, true],
    ]);
  });

  it("[HARNESS-DRV-10] [VTD-QI-14] after a remap, the driver's invalidation makes the new target visible", async () => {
    const { driver: d } = await boot(platformConfig());
    const rt = await d.newRootTable("scalable");
    const pasids = await d.newPasidTables(0);
    const ss = await d.newPageTable("second", 4);
    const a = await d.newDataPage(20);
    const b = await d.newDataPage(21);
    await ss.map(0x1000_0000n, a, "4K", { read: true, write: true });
    await pasids.setEntry(0, secondStageEntry(d.caps, { did: 5, ssptptr: ss.root, levels: 4 }));
    await rt.setScalableContext(0x0108, scalableContext(pasids, { paside: false }));
    await d.setupQueue();
    await d.enable(rt);
    expect(await d.dmaRead({ sid: 0x0108, iova: 0x1000_0000n, len: 8 })).toMatchObject({ hit: { page: a } });
    await ss.map(0x1000_0000n, b, "4K", { read: true, write: true });
    await d.invalidate([inv.iotlbRange(5, 0x1000_0000n, 1n, { mamv: d.caps.mamv, ih: true })]);
    expect(await d.dmaRead({ sid: 0x0108, iova: 0x1000_0000n, len: 8 })).toMatchObject({ hit: { page: b } });
    // Tear the PASID entry down with Linux's sequence: the device is then blocked.
    await pasids.clearEntry(0);
    await d.invalidate(inv.afterPasidEntryChange(5, 0, PGTT.SECOND_STAGE));
    expect((await d.dmaRead({ sid: 0x0108, iova: 0x1000_0000n, len: 8 })).status).toBe("aborted");
  });

  it("[HARNESS-DRV-5] [VTD-PASID-3] scalable pass-through (PGTT 4) reaches guest-physical pages", async () => {
    const { driver: d } = await boot(platformConfig());
    const rt = await d.newRootTable("scalable");
    const pasids = await d.newPasidTables(0);
    const page = await d.newDataPage(30);
    await pasids.setEntry(0, passThroughEntry(d.caps, { did: 1 }));
    await rt.setScalableContext(0x0010, scalableContext(pasids, { paside: false }));
    await d.enable(rt);
    expect(await d.dmaRead({ sid: 0x0010, iova: BigInt(page), len: 8 })).toMatchObject({
      hit: { page, tag: 30 },
    });
  });

  it("[VTD-QI-4] [VTD-QI-10] [HARNESS-DRV-8] queue wrap-around and IQE on a bad descriptor, through the surface", async () => {
    const { driver: d } = await boot(platformConfig());
    await d.setRoot(await d.newRootTable("scalable"));
    await d.setupQueue({ qs: 0 }); // 128 slots of 256 bits
    for (let round = 0; round < 3; round++)
      await d.invalidate(Array.from({ length: 60 }, (_, i) => inv.pasidIotlbPasid(round, i)));
    expect(d.queue.iqt).toBe((3 * 61 * 32) % 4096);
    const bad = { raw: [0x7n | (2n << 4n), 0n, 0n, 0n], label: "pasid-cache with reserved granularity 2" };
    const err = (await d.invalidate([inv.pasidCacheGlobal(), bad]).catch((e: unknown) => e)) as DriverError;
    expect(err.code).toBe("queue-error");
    expect(err.detail).toMatchObject({ iqei: 4, iqh: (d.queue.iqt - 2 * 32 + 4096) % 4096 });
    expect((err.detail.failed as { label: string }).label).toBe("pasid-cache with reserved granularity 2");
    await d.queue.recover();
    await d.queue.wait();
    expect((await d.readFaults()).status.iqe).toBe(false);
  });
});
