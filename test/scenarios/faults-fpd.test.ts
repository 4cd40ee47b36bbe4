/**
 * Fault processing disable through the surface: FPD in a context entry (present or not), a PASID
 * directory entry or a PASID entry suppresses the recording of qualified faults of requests that
 * read it; non-qualified faults and faults decided before any table is read are always recorded;
 * the DMA is blocked either way [VTD-FAULT-3] [VTD-CTX-7].
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import { firstStageEntry, legacyTranslate, scalableContext } from "../../src/driver/entries.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import {
  boot,
  expectFault,
  expectSilentAbort,
  LEGACY_ONLY,
  landing,
  OUTSIDE,
  request,
  SID,
} from "./fixtures.ts";

const IOVA = 0x4000_0000n;

describe("FPD in legacy mode", () => {
  async function legacy(d: GuestDriver) {
    const rt = await d.newRootTable("legacy");
    const ss = await d.newPageTable("second", 4);
    const page = await d.newDataPage(1);
    await ss.map(IOVA, page, "4K", { read: true, write: false });
    return { rt, ss, page };
  }

  it("[VTD-CTX-7] [VTD-FAULT-3] a context entry with FPD: translation works, qualified walk faults are not recorded", async () => {
    const { d } = await boot(LEGACY_ONLY);
    const { rt, ss, page } = await legacy(d);
    await rt.setLegacyContext(SID.A, { ...legacyTranslate(7, ss.root, 4), fpd: true });
    await d.enable(rt);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
    await expectSilentAbort(d, request({ sid: SID.A, iova: IOVA, write: true })); // LGN.2
    await expectSilentAbort(d, request({ sid: SID.A, iova: IOVA + 0x1000n, write: false })); // LGN.3
    await expectSilentAbort(d, request({ sid: SID.A, iova: 1n << 50n, write: false })); // LGN.1
  });

  it("[VTD-CTX-7] FPD is honoured in a not-present context entry and in one with reserved bits (LCT.2, LCT.3, LCT.4)", async () => {
    const { d } = await boot(LEGACY_ONLY);
    const { rt, ss } = await legacy(d);
    await rt.setContextRaw(SID.A, [2n, 0n]); // P = 0, FPD = 1
    await rt.setLegacyContext(SID.B, { ...legacyTranslate(7, ss.root, 4), fpd: true }, [1n << 5n, 0n]);
    await rt.setLegacyContext(SID.C, { ...legacyTranslate(7, ss.root, 4), fpd: true, aw: 4 });
    await d.enable(rt);
    for (const sid of [SID.A, SID.B, SID.C])
      await expectSilentAbort(d, request({ sid, iova: IOVA, write: false }));
    // The same faults without FPD are recorded.
    await rt.setLegacyContext(SID.B, legacyTranslate(7, ss.root, 4), [1n << 5n, 0n]);
    await expectFault(d, request({ sid: SID.B, iova: IOVA, write: false }), {
      reason: L.LCT_3_CONTEXT_RESERVED,
    });
  });

  it("[VTD-DMA-3] [VTD-CTX-7] LGN.4 is suppressed after a translation, but not for a request to the interrupt range", async () => {
    const { d } = await boot(LEGACY_ONLY);
    const { rt, ss } = await legacy(d);
    await ss.map(IOVA + 0x1000n, 0xfee0_0000, "4K", { read: true, write: true });
    await rt.setLegacyContext(SID.A, { ...legacyTranslate(7, ss.root, 4), fpd: true });
    await d.enable(rt);
    await expectSilentAbort(d, request({ sid: SID.A, iova: IOVA + 0x1000n, write: false }));
    await expectFault(d, request({ sid: SID.A, iova: 0xfee0_0000n, write: false }), {
      reason: L.LGN_4_INTERRUPT_RANGE,
    });
  });

  it("[VTD-FAULT-3] FPD of one device does not suppress another device's faults", async () => {
    const { d } = await boot(LEGACY_ONLY);
    const { rt, ss } = await legacy(d);
    await rt.setLegacyContext(SID.A, { ...legacyTranslate(7, ss.root, 4), fpd: true });
    await rt.setLegacyContext(SID.B, legacyTranslate(7, ss.root, 4));
    await d.enable(rt);
    await expectSilentAbort(d, request({ sid: SID.A, iova: IOVA, write: true }));
    await expectFault(d, request({ sid: SID.B, iova: IOVA, write: true }), { reason: L.LGN_2_NO_WRITE });
  });
});

describe("FPD in scalable mode", () => {
  const PASID = 5;

  async function scalable(d: GuestDriver) {
    const rt = await d.newRootTable("scalable");
    const pasids = await d.newPasidTables(0);
    const fs = await d.newPageTable("first", 4);
    const page = await d.newDataPage(1);
    await fs.map(IOVA, page, "4K", { write: false, user: true });
    const entry = firstStageEntry(d.caps, { did: 3, fsptptr: fs.root, levels: 4 });
    await pasids.setEntry(0, entry);
    await pasids.setEntry(PASID, entry);
    return { rt, pasids, fs, page, entry };
  }

  it("[VTD-CTX-7] context FPD: SCT.2 (not present), PASID-level and walk faults are not recorded", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalable(d);
    await rt.setContextRaw(SID.B, [2n, 0n, 0n, 0n]); // P = 0, FPD = 1
    await rt.setScalableContext(SID.A, scalableContext(pasids, { fpd: true }));
    await d.enable(rt);
    await expectSilentAbort(d, request({ sid: SID.B, iova: IOVA, write: false })); // SCT.2
    await expectSilentAbort(d, request({ sid: SID.A, pasid: 8192, iova: IOVA, write: false })); // SCT.7
    await expectSilentAbort(d, request({ sid: SID.A, pasid: 6, iova: IOVA, write: false })); // SPT.2
    await expectSilentAbort(d, request({ sid: SID.A, pasid: PASID, iova: IOVA, write: true })); // SGN.6
  });

  it("[VTD-CTX-7] [VTD-FAULT-3] SPD.1 and SPT.1 are not qualified: recorded despite FPD in the context and directory entries", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalable(d);
    await rt.setScalableContext(SID.B, {
      present: true,
      fpd: true,
      paside: true,
      pdts: 0,
      pasidDirPtr: OUTSIDE,
    });
    await pasids.setDirEntryRaw(64, BigInt(OUTSIDE) | 3n); // P, FPD, table outside memory
    await rt.setScalableContext(SID.A, scalableContext(pasids, { fpd: true }));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.B, iova: IOVA, write: false }), {
      reason: S.SPD_1_PASID_DIR_ACCESS,
    });
    await expectFault(d, request({ sid: SID.A, pasid: 64, iova: IOVA, write: true }), {
      reason: S.SPT_1_PASID_ENTRY_ACCESS,
    });
  });

  it("[VTD-CTX-7] PASID-directory FPD (present or not) suppresses SPD.2, SPT.2 and walk faults of the PASIDs below it", async () => {
    const { d } = await boot();
    const { rt, pasids, entry } = await scalable(d);
    await pasids.setDirEntryRaw(64, 2n); // P = 0, FPD = 1
    const table = await d.tables.newPage();
    await pasids.setDirEntryRaw(128, BigInt(table) | 3n);
    await pasids.setEntry(129, entry);
    await rt.setScalableContext(SID.A, scalableContext(pasids));
    await d.enable(rt);
    await expectSilentAbort(d, request({ sid: SID.A, pasid: 64, iova: IOVA, write: false })); // SPD.2
    await expectSilentAbort(d, request({ sid: SID.A, pasid: 130, iova: IOVA, write: false })); // SPT.2
    await expectSilentAbort(d, request({ sid: SID.A, pasid: 129, iova: IOVA, write: true })); // SGN.6
    // A PASID under a directory entry without FPD still reports.
    await expectFault(d, request({ sid: SID.A, pasid: PASID, iova: IOVA, write: true }), {
      reason: S.SGN_6_NO_WRITE,
    });
  });

  it("[VTD-CTX-7] PASID-entry FPD suppresses its own faults only; SGN.8 before the tables and SGN.10 are recorded", async () => {
    const { d } = await boot();
    const { rt, pasids, fs, entry, page } = await scalable(d);
    await fs.map(IOVA + 0x1000n, 0xfee0_0000, "4K", { write: true, user: true });
    await pasids.setEntry(0, { ...entry, fpd: true });
    await pasids.setEntry(7, { ...entry, fpd: true }, [1n << 5n]); // reserved bit: SPT.3
    await rt.setScalableContext(SID.A, scalableContext(pasids));
    await d.enable(rt);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
    await expectSilentAbort(d, request({ sid: SID.A, iova: IOVA, write: true })); // SGN.6 via RID_PASID 0
    await expectSilentAbort(d, request({ sid: SID.A, iova: IOVA + 0x1000n, write: false })); // SGN.8 after translation
    await expectSilentAbort(d, request({ sid: SID.A, pasid: 7, iova: IOVA, write: false })); // SPT.3
    await expectFault(d, request({ sid: SID.A, iova: 0xfee0_0000n, write: true }), {
      reason: S.SGN_8_INTERRUPT_RANGE,
    });
    await expectFault(d, request({ sid: SID.A, pasid: PASID, iova: IOVA, write: true }), {
      reason: S.SGN_6_NO_WRITE,
    });
  });

  it("[VTD-PASID-5] [VTD-FAULT-3] SGN.10 is checked before any entry, so FPD never suppresses it", async () => {
    const { d } = await boot({ pasidBits: 8 });
    const { rt, pasids } = await scalable(d);
    await rt.setScalableContext(SID.A, scalableContext(pasids, { fpd: true }));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, pasid: 300, iova: IOVA, write: false }), {
      reason: S.SGN_10_PASID_BEYOND_PSS,
    });
  });
});
