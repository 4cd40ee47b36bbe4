/**
 * Scalable-mode fault reasons of the structures before the page walk: RTADDR, root entries,
 * context entries, PASID directory and PASID table entries (0x38-0x5D, 0x89), through the platform
 * surface only. Each scenario checks that the DMA is aborted and that the FRCD record carries the
 * reason, SID, FI, PP/PV, T1/T2 and PRIV [VTD-FAULT-2] [VTD-FAULT-5].
 *
 * Not produced by the reference (asserted nowhere, cross-checked with spec/faults.md):
 * - 0x32 RTA.3, 0x47 SCT.8: page requests are not modelled (ECAP.PRS = 0).
 * - 0x33 RTA.4: ECAP.ADMS = 0, so TTM 11b is RTA.1 (faults-legacy.test.ts) [VTD-ROOT-5].
 * - 0x34 RTA.5, 0x5C SPT.5: execute requests are not modelled (ECAP.ERS = 0).
 * - 0x44 SCT.5: no translation requests (no ATS) [VTD-DMA-1].
 * - 0x49 SCT.10: EPTR is reserved without ECAP.PTRS, so an entry using it is SCT.3.
 * - SCT.4 through DTE/PRE or EPTR/PASIDE: DTE, PRE and EPTR are reserved (DT = PRS = PTRS = 0), so
 *   only the RID_PASID limit reaches SCT.4.
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import {
  firstStageEntry,
  nestedEntry,
  passThroughEntry,
  scalableContext,
  secondStageEntry,
} from "../../src/driver/entries.ts";
import { ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import type { PasidEntry } from "../../src/spec/pasid-entry.ts";
import { boot, expectFault, landing, OUTSIDE, request, SID } from "./fixtures.ts";

const IOVA = 0x4000_0000n;
const PASID = 5;
const DID = 3;

/**
 * A scalable root table with SID.A: PASIDs enabled (PDTS 0: PASIDs below 8192), RID_PASID 0;
 * PASID 0 and PASID 5 translate IOVA through one first-stage table (DID 3, SRE = 1).
 */
async function scalableDevice(d: GuestDriver) {
  const rt = await d.newRootTable("scalable");
  const pasids = await d.newPasidTables(0);
  const fs = await d.newPageTable("first", 4);
  const page = await d.newDataPage(1);
  await fs.map(IOVA, page, "4K", { write: true, user: true });
  const entry = firstStageEntry(d.caps, { did: DID, fsptptr: fs.root, levels: 4, sre: true });
  await pasids.setEntry(0, entry);
  await pasids.setEntry(PASID, entry);
  await rt.setScalableContext(SID.A, scalableContext(pasids));
  return { rt, pasids, fs, page, entry };
}

const read = (sid: number, pasid?: number, iova = IOVA) =>
  request({ sid, iova, write: false, ...(pasid === undefined ? {} : { pasid }) });

describe("scalable-mode fault reasons of root, context and PASID structures", () => {
  it("[VTD-PASID-8] [VTD-CTX-8] the well-formed setup translates with and without PASID (baseline)", async () => {
    const { d } = await boot();
    const { rt, page } = await scalableDevice(d);
    await d.enable(rt);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: IOVA })).toBe(page);
  });

  it("[VTD-ROOT-4] [VTD-MEM-2] 0x38 SRT.1: the scalable root table is outside memory", async () => {
    const { d } = await boot();
    await d.enable(OUTSIDE, "scalable");
    await expectFault(d, read(SID.A, PASID), { reason: S.SRT_1_ROOT_ACCESS });
  });

  it("[VTD-ROOT-4] 0x39 SRT.2: the half of the root entry the devfn uses is not present", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    // Bus 1's lower half is present (SID.A); devfn 0x88 uses the upper half, which is not.
    await expectFault(d, read(SID.UPPER), { reason: S.SRT_2_ROOT_NOT_PRESENT });
    await expectFault(d, read(0x0300, 1), { reason: S.SRT_2_ROOT_NOT_PRESENT });
  });

  it("[VTD-ROOT-4] 0x3A SRT.3: reserved bits in the used half, and in the other half while the used one is present", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    const table = await d.tables.newPage();
    await rt.setRootRaw(0x02, [BigInt(table) | 1n | (1n << 3n), 0n]);
    await rt.setRootRaw(0x03, [BigInt(table) | 1n, BigInt(table) | 1n | (1n << 11n)]);
    await d.enable(rt);
    await expectFault(d, read(0x0200), { reason: S.SRT_3_ROOT_RESERVED });
    await expectFault(d, read(0x0380, 2), { reason: S.SRT_3_ROOT_RESERVED });
    await expectFault(d, read(0x0300), { reason: S.SRT_3_ROOT_RESERVED });
  });

  it("[VTD-CTX-5] [VTD-MEM-2] 0x40 SCT.1: the scalable context table is outside memory", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await rt.setRootRaw(0x02, [BigInt(OUTSIDE) | 1n, 0n]);
    await d.enable(rt);
    await expectFault(d, read(0x0210, PASID), { reason: S.SCT_1_CONTEXT_ACCESS });
  });

  it("[VTD-CTX-5] 0x41 SCT.2: the scalable context entry is not present", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    await expectFault(d, read(SID.B), { reason: S.SCT_2_CONTEXT_NOT_PRESENT });
    await expectFault(d, request({ sid: SID.A + 1, pasid: 1, priv: true, iova: IOVA, write: true }), {
      reason: S.SCT_2_CONTEXT_NOT_PRESENT,
    });
  });

  it("[VTD-CTX-4] 0x42 SCT.3: reserved bits, and fields whose capability is absent (DTE, PRE, EPTR)", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalableDevice(d);
    const extras: bigint[][] = [
      [1n << 7n], // bits 8:7
      [1n << 2n], // DTE without ECAP.DT
      [1n << 4n], // PRE without ECAP.PRS
      [1n << 6n], // EPTR without ECAP.PTRS
      [1n << 50n], // PASID-directory pointer at or above HAW
      [0n, 1n << 21n], // bit 85
      [0n, 0n, 1n], // bit 128
    ];
    for (const [i, extra] of extras.entries())
      await rt.setScalableContext(0x0140 + i, scalableContext(pasids), extra);
    await d.enable(rt);
    for (let i = 0; i < extras.length; i++)
      await expectFault(d, read(0x0140 + i), { reason: S.SCT_3_CONTEXT_RESERVED });
  });

  it("[VTD-CTX-5] 0x43 SCT.4: RID_PASID not below the PDTS limit", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalableDevice(d);
    await rt.setScalableContext(SID.B, scalableContext(pasids, { ridPasid: 8192 }));
    await rt.setScalableContext(SID.B + 1, scalableContext(pasids, { ridPasid: 8191 }));
    await d.enable(rt);
    await expectFault(d, read(SID.B), { reason: S.SCT_4_CONTEXT_INVALID });
    // Just inside the limit the entry is valid; PASID 8191's slot is empty, so the walk stops there.
    await expectFault(d, read(SID.B + 1), { reason: S.SPD_2_PASID_DIR_NOT_PRESENT });
  });

  it("[VTD-CTX-8] 0x45 SCT.6: a request with PASID while PASIDE = 0; requests without PASID still translate", async () => {
    const { d } = await boot();
    const { rt, pasids, page } = await scalableDevice(d);
    await rt.setScalableContext(SID.A, scalableContext(pasids, { paside: false }));
    await d.enable(rt);
    await expectFault(d, read(SID.A, PASID), { reason: S.SCT_6_PASID_DISABLED });
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
  });

  it("[VTD-CTX-8] 0x46 SCT.7: a PASID at or beyond the PDTS limit", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    await expectFault(d, read(SID.A, 8192), { reason: S.SCT_7_PASID_BEYOND_PDTS });
    await expectFault(d, read(SID.A, 0xfffff), { reason: S.SCT_7_PASID_BEYOND_PDTS });
  });

  it("[VTD-CTX-8] 0x48 SCT.9: a request whose PASID equals RID_PASID", async () => {
    const { d } = await boot();
    const { rt, pasids, page } = await scalableDevice(d);
    await rt.setScalableContext(SID.A, scalableContext(pasids, { ridPasid: PASID }));
    await d.enable(rt);
    await expectFault(d, read(SID.A, PASID), { reason: S.SCT_9_PASID_EQUALS_RID_PASID });
    // Without PASID the request uses RID_PASID's entry.
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
  });

  it("[VTD-PASID-2] [VTD-MEM-2] 0x50 SPD.1: the PASID directory is outside memory", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await rt.setScalableContext(SID.B, { present: true, paside: true, pdts: 0, pasidDirPtr: OUTSIDE });
    await d.enable(rt);
    await expectFault(d, read(SID.B), { reason: S.SPD_1_PASID_DIR_ACCESS });
    await expectFault(d, read(SID.B, PASID), { reason: S.SPD_1_PASID_DIR_ACCESS });
  });

  it("[VTD-PASID-2] 0x51 SPD.2: the directory entry is not present", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    await expectFault(d, read(SID.A, 64), { reason: S.SPD_2_PASID_DIR_NOT_PRESENT });
  });

  it("[VTD-PASID-2] 0x52 SPD.3: reserved bits in a present directory entry", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalableDevice(d);
    const table = await d.tables.newPage();
    await pasids.setDirEntryRaw(128, BigInt(table) | 1n | (1n << 2n));
    await pasids.setDirEntryRaw(192, BigInt(table) | 1n | (1n << 47n));
    await d.enable(rt);
    await expectFault(d, read(SID.A, 130), { reason: S.SPD_3_PASID_DIR_RESERVED });
    await expectFault(d, read(SID.A, 192), { reason: S.SPD_3_PASID_DIR_RESERVED });
  });

  it("[VTD-PASID-6] [VTD-MEM-2] 0x58 SPT.1: the PASID table is outside memory", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalableDevice(d);
    await pasids.setDirEntryRaw(256, BigInt(OUTSIDE) | 1n);
    await d.enable(rt);
    await expectFault(d, read(SID.A, 257), { reason: S.SPT_1_PASID_ENTRY_ACCESS });
  });

  it("[VTD-PASID-6] 0x59 SPT.2: the PASID entry is not present", async () => {
    const { d } = await boot();
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, pasid: 6, priv: true, iova: IOVA, write: true }), {
      reason: S.SPT_2_PASID_ENTRY_NOT_PRESENT,
    });
  });

  it("[VTD-PASID-4] 0x5A SPT.3: reserved bits in a present PASID entry", async () => {
    const { d } = await boot({ extendedAccessed: false });
    const { rt, pasids, entry } = await scalableDevice(d);
    const extras: bigint[][] = [
      [1n << 5n], // bit 5
      [0n, 1n << 16n], // bit 80
      [0n, 0n, 1n << 1n], // bit 129
      [0n, 0n, 1n << 7n], // EAFE without ECAP.EAFS
      [0n, 0n, 0n, 1n], // bit 192
      [0n, 0n, 0n, 0n, 0n, 0n, 0n, 1n << 63n], // bit 511
    ];
    for (const [i, extra] of extras.entries()) await pasids.setEntry(10 + i, entry, extra);
    await d.enable(rt);
    for (let i = 0; i < extras.length; i++)
      await expectFault(d, read(SID.A, 10 + i), { reason: S.SPT_3_PASID_ENTRY_RESERVED });
  });

  it("[VTD-PASID-6] 0x5B SPT.4: PGTT 000b and 101b, FSPM 10b, an AW outside SAGAW", async () => {
    const { d } = await boot();
    const { rt, pasids, fs, entry } = await scalableDevice(d);
    const ss = await d.newPageTable("second", 4);
    const bad: PasidEntry[] = [
      { ...entry, pgtt: 0 },
      { ...entry, pgtt: 5 },
      { ...entry, pgtt: 7 },
      { ...entry, fspm: 2 },
      { ...secondStageEntry(d.caps, { did: DID, ssptptr: ss.root, levels: 4 }), aw: 0 },
      { ...secondStageEntry(d.caps, { did: DID, ssptptr: ss.root, levels: 4 }), aw: 4 },
      {
        ...nestedEntry(d.caps, { did: DID, fsptptr: fs.root, fsLevels: 4, ssptptr: ss.root, ssLevels: 4 }),
        aw: 5,
      },
    ];
    for (const [i, e] of bad.entries()) await pasids.setEntry(20 + i, e);
    await d.enable(rt);
    for (let i = 0; i < bad.length; i++)
      await expectFault(d, read(SID.A, 20 + i), { reason: S.SPT_4_PASID_ENTRY_INVALID });
  });

  it("[VTD-PASID-6] 0x5B SPT.4: a PGTT the unit does not offer, and 5-level FSPM without FL5LP", async () => {
    const { d } = await boot({ nested: false, passThrough: false, fl5lp: false });
    const { rt, pasids, fs, entry } = await scalableDevice(d);
    const ss = await d.newPageTable("second", 4);
    await pasids.setEntry(
      20,
      nestedEntry(d.caps, { did: DID, fsptptr: fs.root, fsLevels: 4, ssptptr: ss.root, ssLevels: 4 }),
    );
    await pasids.setEntry(21, passThroughEntry(d.caps, { did: DID }));
    await pasids.setEntry(22, { ...entry, fspm: 1 });
    await d.enable(rt);
    for (const pasid of [20, 21, 22])
      await expectFault(d, read(SID.A, pasid), { reason: S.SPT_4_PASID_ENTRY_INVALID });
  });

  it("[VTD-PASID-6] [VTD-NEST-3] 0x5B SPT.4: a nested FSPTPTR at or above 2^min(MGAW, AGAW)", async () => {
    const { d } = await boot();
    const { rt, pasids } = await scalableDevice(d);
    const ss = await d.newPageTable("second", 3); // AW 1: 39 bits
    await pasids.setEntry(
      30,
      nestedEntry(d.caps, { did: DID, fsptptr: 2 ** 40, fsLevels: 4, ssptptr: ss.root, ssLevels: 3 }),
    );
    await d.enable(rt);
    await expectFault(d, read(SID.A, 30), { reason: S.SPT_4_PASID_ENTRY_INVALID });
  });

  it("[VTD-PASID-7] 0x5D SPT.6: a supervisor request through an entry with SRE = 0 (read and write)", async () => {
    const { d } = await boot();
    const { rt, pasids, entry, page } = await scalableDevice(d);
    await pasids.setEntry(40, { ...entry, sre: false });
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, pasid: 40, priv: true, iova: IOVA, write: false }), {
      reason: S.SPT_6_SUPERVISOR_DISABLED,
    });
    await expectFault(d, request({ sid: SID.A, pasid: 40, priv: true, iova: IOVA, write: true }), {
      reason: S.SPT_6_SUPERVISOR_DISABLED,
    });
    // The same entry serves user requests.
    expect(await landing(d, { sid: SID.A, pasid: 40, iova: IOVA })).toBe(page);
  });

  it("[VTD-PASID-5] 0x89 SGN.10: a PASID beyond ECAP.PSS, before any table is read", async () => {
    const { d } = await boot({ pasidBits: 8 });
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    await expectFault(d, read(SID.A, 256), { reason: S.SGN_10_PASID_BEYOND_PSS });
    // Even for a device without a context entry.
    await expectFault(d, read(SID.B, 0x8000), { reason: S.SGN_10_PASID_BEYOND_PSS });
    expect((await d.platform.dma(read(SID.A, 255))).status).toBe("aborted"); // in range: SPD.2 instead
    expect((await d.readFaults()).faults.map((f) => f.record.fr)).toEqual([S.SPD_2_PASID_DIR_NOT_PRESENT]);
  });

  it("[VTD-PASID-5] [VTD-FAULT-5] 0x89 SGN.10: every PASID without ECAP.PASID, recorded without PP/PV", async () => {
    const { d } = await boot({ pasidBits: 0, supervisorRequests: false });
    expect(d.caps.pasid).toBe(false);
    const { rt } = await scalableDevice(d);
    await d.enable(rt);
    const f = await expectFault(d, read(SID.A, 0), { reason: S.SGN_10_PASID_BEYOND_PSS });
    expect([f.record.pp, f.record.pv]).toEqual([false, 0]);
  });
});
