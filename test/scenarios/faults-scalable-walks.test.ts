/**
 * Scalable-mode fault reasons of the walks: first stage (PGTT 1), second stage (PGTT 2),
 * pass-through (PGTT 4) and nested (PGTT 3), reasons 0x70-0x90, through the platform surface.
 * Each scenario checks the DMA is aborted and the FRCD record (reason, SID, FI, PP/PV, T1/T2,
 * PRIV) [VTD-FAULT-2] [VTD-FAULT-5] [VTD-PASID-9].
 *
 * Not produced by the reference (asserted nowhere, cross-checked with spec/faults.md):
 * - 0x7D SSS.6 and 0x91 SFS.10: A/D update failures other than non-snooped walks do not occur
 *   (structure accesses always succeed once the entry was read).
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
import type { PageTable } from "../../src/driver/page-table.ts";
import { ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import { encodeFsEntry, encodeSsEntry } from "../../src/spec/paging-entry.ts";
import type { PasidEntry } from "../../src/spec/pasid-entry.ts";
import { boot, expectFault, landing, OUTSIDE, request, SID } from "./fixtures.ts";

const IOVA = 0x4000_0000n;
const PASID = 5;
const DID = 3;

/** SID.A with RID_PASID 0 and PASID 5 both set to `entry` (PDTS 0). */
async function device(d: GuestDriver, entry: PasidEntry) {
  const rt = await d.newRootTable("scalable");
  const pasids = await d.newPasidTables(0);
  await pasids.setEntry(0, entry);
  await pasids.setEntry(PASID, entry);
  await rt.setScalableContext(SID.A, scalableContext(pasids));
  await d.enable(rt);
  return { rt, pasids };
}

async function firstStage(d: GuestDriver, o: { wpe?: boolean; pwsnp?: boolean } = {}) {
  const fs = await d.newPageTable("first", 4);
  const page = await d.newDataPage(1);
  await fs.map(IOVA, page, "4K", { write: true, user: true });
  const entry = {
    ...firstStageEntry(d.caps, { did: DID, fsptptr: fs.root, levels: 4, sre: true, wpe: o.wpe }),
  };
  if (o.pwsnp !== undefined) entry.pwsnp = o.pwsnp;
  return { fs, page, entry };
}

async function secondStage(d: GuestDriver, levels: 3 | 4 = 4) {
  const ss = await d.newPageTable("second", levels);
  const page = await d.newDataPage(2);
  await ss.map(IOVA, page, "4K", { read: true, write: true });
  return { ss, page, entry: secondStageEntry(d.caps, { did: DID, ssptptr: ss.root, levels }) };
}

/** The table page holding the entry at `level` of the walk for iova. */
async function tablePageAt(t: PageTable, iova: bigint, level: number): Promise<number> {
  const step = (await t.walk(iova)).find((s) => s.level === level);
  if (step === undefined) throw new Error(`no level ${level} entry for ${iova}`);
  return step.addr & ~0xfff;
}

const r = (pasid: number | undefined, iova = IOVA, extra: { write?: boolean; priv?: boolean } = {}) =>
  request({
    sid: SID.A,
    iova,
    write: extra.write ?? false,
    ...(pasid === undefined ? {} : { pasid, priv: extra.priv }),
  });

describe("first-stage walk faults (PGTT 001b)", () => {
  it("[VTD-FS-2] [VTD-FS-6] baseline: user and supervisor requests translate", async () => {
    const { d } = await boot();
    const { page, entry } = await firstStage(d);
    await device(d, entry);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
    expect(await landing(d, { sid: SID.A, pasid: PASID, priv: true, iova: IOVA })).toBe(page);
  });

  it("[VTD-FS-9] 0x70 SFS.1: a first-stage table pointer leads outside memory", async () => {
    const { d } = await boot();
    const { fs, entry } = await firstStage(d);
    await fs.setEntry(IOVA, 2, encodeFsEntry({ write: true, user: true, addr: OUTSIDE }, 2));
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SFS_1_FS_ENTRY_ACCESS });
  });

  it("[VTD-FS-3] 0x71 SFS.2: a not-present first-stage entry, at the leaf and above it", async () => {
    const { d } = await boot();
    const { entry } = await firstStage(d);
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n, { write: true }), { reason: S.SFS_2_FS_NOT_PRESENT });
    await expectFault(d, r(undefined, 0x7000_0000_0000n), { reason: S.SFS_2_FS_NOT_PRESENT });
  });

  it("[VTD-FS-4] 0x72 SFS.3: PS in a PML4E, and address bits at or above HAW in a leaf", async () => {
    const { d } = await boot();
    const { fs, page, entry } = await firstStage(d);
    const [pml4e] = await fs.walk(IOVA);
    await fs.setEntry(IOVA, 4, (pml4e?.word ?? 0n) | (1n << 7n));
    await fs.map(0x10_0000_0000n, page, "4K", { write: true, user: true, extra: 1n << 50n });
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SFS_3_FS_RESERVED });
    await expectFault(d, r(PASID, 0x10_0000_0000n), { reason: S.SFS_3_FS_RESERVED });
  });

  it("[VTD-FS-9] [VTD-MEM-2] 0x73 SFS.4: FSPTPTR names a table outside memory", async () => {
    const { d } = await boot();
    const { entry } = await firstStage(d);
    await device(d, { ...entry, fsptptr: OUTSIDE });
    await expectFault(d, r(PASID), { reason: S.SFS_4_FSPTPTR_ACCESS });
  });

  it("[VTD-FS-1] 0x80 SGN.1: a non-canonical input address (4-level paging)", async () => {
    const { d } = await boot();
    const { entry } = await firstStage(d);
    await device(d, entry);
    await expectFault(d, r(PASID, 0x0000_8000_0000_1000n), { reason: S.SGN_1_NON_CANONICAL });
    // FI keeps bits below the largest input width (57: 5-level first stage) [VTD-FAULT-5].
    await expectFault(d, r(undefined, 0xffff_0000_0000_0000n, { write: true }), {
      reason: S.SGN_1_NON_CANONICAL,
      fi: 0x01ff_0000_0000_0000n,
    });
  });

  it("[VTD-FS-6] 0x81 SGN.2: a user request to a supervisor page; the supervisor request passes", async () => {
    const { d } = await boot();
    const { fs, entry } = await firstStage(d);
    const sup = await d.newDataPage(3);
    await fs.map(IOVA + 0x1000n, sup, "4K", { write: true, user: false });
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n), { reason: S.SGN_2_USER_TO_SUPERVISOR });
    await expectFault(d, r(undefined, IOVA + 0x1000n), { reason: S.SGN_2_USER_TO_SUPERVISOR });
    expect(await landing(d, { sid: SID.A, pasid: PASID, priv: true, iova: IOVA + 0x1000n })).toBe(sup);
  });

  it("[VTD-FS-6] 0x85 SGN.6: a user write to a read-only page; a supervisor write only with WPE = 1", async () => {
    const { d } = await boot();
    const { fs, page, entry } = await firstStage(d, { wpe: true });
    const ro = await d.newDataPage(4);
    await fs.map(IOVA + 0x1000n, ro, "4K", { write: false, user: true });
    const { pasids } = await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n, { write: true }), { reason: S.SGN_6_NO_WRITE });
    await expectFault(d, r(PASID, IOVA + 0x1000n, { write: true, priv: true }), { reason: S.SGN_6_NO_WRITE });
    // WPE = 0: a supervisor write ignores R/W.
    await pasids.setEntry(6, { ...entry, wpe: false });
    expect((await d.platform.dma(r(6, IOVA + 0x1000n, { write: true, priv: true }))).status).toBe("ok");
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: IOVA })).toBe(page);
  });

  it("[VTD-FS-8] 0x90 SFS.9: an A/D update on a non-snooped walk (PWSNP = 0)", async () => {
    const { d } = await boot();
    const { entry } = await firstStage(d, { pwsnp: false });
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SFS_9_AD_NON_SNOOPED });
    await expectFault(d, r(undefined, IOVA, { write: true }), { reason: S.SFS_9_AD_NON_SNOOPED });
  });

  it("[VTD-FS-8] [VTD-FS-7] SFS.9 needs an update: with A (and D) already set the walk succeeds", async () => {
    const { d } = await boot();
    const fs = await d.newPageTable("first", 4, { write: true, user: true, accessed: true });
    const page = await d.newDataPage(5);
    await fs.map(IOVA, page, "4K", { write: true, user: true, accessed: true, dirty: true });
    const entry = { ...firstStageEntry(d.caps, { did: DID, fsptptr: fs.root, levels: 4 }), pwsnp: false };
    await device(d, entry);
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: IOVA })).toBe(page);
    expect((await d.platform.dma(r(PASID, IOVA, { write: true }))).status).toBe("ok");
  });
});

describe("second-stage walk faults (PGTT 010b)", () => {
  it("[VTD-SS-2] baseline: second-stage translation with and without PASID", async () => {
    const { d } = await boot();
    const { page, entry } = await secondStage(d);
    await device(d, entry);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: IOVA })).toBe(page);
  });

  it("[VTD-SS-5] 0x78 SSS.1: a second-stage table pointer leads outside memory", async () => {
    const { d } = await boot();
    const { ss, entry } = await secondStage(d);
    await ss.setEntry(IOVA, 3, encodeSsEntry({ read: true, write: true, addr: OUTSIDE }));
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SSS_1_SS_ENTRY_ACCESS });
  });

  it("[VTD-SS-2] [VTD-SS-3] 0x79 SSS.2: an entry with R = W = 0 (leaf or table), and cumulative R = W = 0", async () => {
    const { d } = await boot();
    const { ss, entry } = await secondStage(d);
    const page = await d.newDataPage(6);
    await ss.setEntry(IOVA + 0x1000n, 1, BigInt(page)); // address, no rights
    // R only above, W only in the leaf: neither right survives the walk.
    await ss.map(0x8000_0000n, page, "4K", { read: false, write: true });
    const [, , pde] = await ss.walk(0x8000_0000n);
    await ss.setEntry(0x8000_0000n, 2, ((pde?.word ?? 0n) & ~3n) | 1n);
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n), { reason: S.SSS_2_SS_NONLEAF_NO_PERMISSION });
    await expectFault(d, r(undefined, IOVA + 0x2000n, { write: true }), {
      reason: S.SSS_2_SS_NONLEAF_NO_PERMISSION,
    });
    await expectFault(d, r(PASID, 0x8000_0000n, { write: true }), {
      reason: S.SSS_2_SS_NONLEAF_NO_PERMISSION,
    });
  });

  it("[VTD-SS-4] 0x7A SSS.3: reserved bits in a second-stage leaf (above HAW) and PS in an SS-PML4E", async () => {
    const { d } = await boot();
    const { ss, page, entry } = await secondStage(d);
    await ss.map(IOVA + 0x1000n, page, "4K", { read: true, write: true, extra: 1n << 47n });
    await ss.map(0x80_0000_0000n, page, "4K", { read: true, write: true });
    const [pml4e] = await ss.walk(0x80_0000_0000n);
    await ss.setEntry(0x80_0000_0000n, 4, (pml4e?.word ?? 0n) | (1n << 7n));
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n), { reason: S.SSS_3_SS_RESERVED });
    await expectFault(d, r(PASID, 0x80_0000_0000n), { reason: S.SSS_3_SS_RESERVED });
  });

  it("[VTD-SS-5] [VTD-MEM-2] 0x7B SSS.4: SSPTPTR names a table outside memory", async () => {
    const { d } = await boot();
    const { entry } = await secondStage(d);
    await device(d, { ...entry, ssptptr: OUTSIDE });
    await expectFault(d, r(PASID, IOVA, { write: true }), { reason: S.SSS_4_SSPTPTR_ACCESS });
  });

  it("[VTD-SS-1] 0x84 SGN.5: input beyond min(MGAW, AGAW) of a 3-level second stage", async () => {
    const { d } = await boot();
    const { entry } = await secondStage(d, 3);
    await device(d, entry);
    await expectFault(d, r(PASID, 1n << 39n), { reason: S.SGN_5_SS_INPUT_BEYOND_WIDTH });
    await expectFault(d, r(undefined, 1n << 47n, { write: true }), { reason: S.SGN_5_SS_INPUT_BEYOND_WIDTH });
  });

  it("[VTD-SS-3] 0x85 SGN.6 and 0x86 SGN.7: missing write and missing read in the second stage", async () => {
    const { d } = await boot();
    const { ss, entry } = await secondStage(d);
    await ss.map(IOVA + 0x1000n, await d.newDataPage(7), "4K", { read: true, write: false });
    await ss.map(IOVA + 0x2000n, await d.newDataPage(8), "4K", { read: false, write: true });
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n, { write: true }), { reason: S.SGN_6_NO_WRITE });
    await expectFault(d, r(PASID, IOVA + 0x2000n), { reason: S.SGN_7_NO_READ });
  });
});

describe("pass-through and interrupt-range faults", () => {
  it("[VTD-PASID-8] 0x83 SGN.4: pass-through input at or above HAW; below it the address is used as is", async () => {
    const { d } = await boot();
    const page = await d.newDataPage(9);
    await device(d, passThroughEntry(d.caps, { did: DID }));
    await expectFault(d, r(PASID, 1n << 46n), { reason: S.SGN_4_ABOVE_HAW });
    await expectFault(d, r(undefined, (1n << 47n) | 0x1000n, { write: true }), { reason: S.SGN_4_ABOVE_HAW });
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: BigInt(page) })).toBe(page);
  });

  it("[VTD-DMA-3] 0x87 SGN.8: a request without PASID to the interrupt range, before any table", async () => {
    const { d } = await boot();
    await d.enable(await d.newRootTable("scalable"));
    await expectFault(d, r(undefined, 0xfee0_0000n, { write: true }), { reason: S.SGN_8_INTERRUPT_RANGE });
  });

  it("[VTD-DMA-3] [VTD-PASID-8] 0x87 SGN.8: a translation with PASID whose output is in the interrupt range", async () => {
    const { d } = await boot();
    const { fs, entry } = await firstStage(d);
    await fs.map(IOVA + 0x1000n, 0xfee0_0000, "4K", { write: true, user: true });
    const { pasids } = await device(d, entry);
    await pasids.setEntry(7, passThroughEntry(d.caps, { did: DID }));
    await expectFault(d, r(PASID, IOVA + 0x1000n), { reason: S.SGN_8_INTERRUPT_RANGE });
    await expectFault(d, r(7, 0xfee0_1000n, { write: true }), { reason: S.SGN_8_INTERRUPT_RANGE });
  });
});

describe("nested walk faults (PGTT 011b)", () => {
  /**
   * A nested PASID entry: a 4-level first stage mapping IOVA to a data page, over a second stage
   * that identity-maps the first-stage table pages (R/W unless `tablePerms` says otherwise for a
   * level) and the data page. AW of the second stage from ssLevels.
   */
  async function nested(
    d: GuestDriver,
    o: {
      ssLevels?: 3 | 4;
      tablePerms?: Record<number, { read: boolean; write: boolean }>;
      data?: { read: boolean; write: boolean };
      ssade?: boolean;
    } = {},
  ) {
    const fs = await d.newPageTable("first", 4);
    const ss = await d.newPageTable("second", o.ssLevels ?? 4);
    const page = await d.newDataPage(11);
    await fs.map(IOVA, page, "4K", { write: true, user: true });
    for (const level of [4, 3, 2, 1]) {
      const table = await tablePageAt(fs, IOVA, level);
      await ss.map(BigInt(table), table, "4K", o.tablePerms?.[level] ?? { read: true, write: true });
    }
    await ss.map(BigInt(page), page, "4K", o.data ?? { read: true, write: true });
    const entry = nestedEntry(d.caps, {
      did: DID,
      fsptptr: fs.root,
      fsLevels: 4,
      ssptptr: ss.root,
      ssLevels: o.ssLevels ?? 4,
      ssade: o.ssade ?? false,
    });
    return { fs, ss, page, entry };
  }

  it("[VTD-NEST-1] baseline: a nested translation reaches the page", async () => {
    const { d } = await boot();
    const { page, entry } = await nested(d);
    await device(d, entry);
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: IOVA })).toBe(page);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
  });

  it("[VTD-NEST-3] 0x74 SFS.5: a first-stage entry address beyond the second stage's 39 bits", async () => {
    const { d } = await boot();
    const { fs, entry } = await nested(d, { ssLevels: 3 });
    await fs.map(IOVA + 0x1000n, 2 ** 40, "4K", { write: true, user: true });
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA + 0x1000n), { reason: S.SFS_5 });
  });

  it("[VTD-NEST-2] 0x75 SFS.6: no second-stage read right on the FSPTPTR table", async () => {
    const { d } = await boot();
    const { entry } = await nested(d, { tablePerms: { 4: { read: false, write: true } } });
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SFS_6 });
  });

  it("[VTD-NEST-2] 0x76 SFS.7: no second-stage read right on a lower first-stage table", async () => {
    const { d } = await boot();
    const { entry } = await nested(d, { tablePerms: { 2: { read: false, write: true } } });
    await device(d, entry);
    await expectFault(d, r(PASID, IOVA, { write: true }), { reason: S.SFS_7 });
  });

  it("[VTD-NEST-5] 0x77 SFS.8: setting A in a first-stage entry needs second-stage write", async () => {
    const { d } = await boot();
    const { entry } = await nested(d, { tablePerms: { 1: { read: true, write: false } } });
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SFS_8 });
  });

  it("[VTD-NEST-5] with SSADE = 1, 0x75 SFS.6: reading the FSPTPTR table needs second-stage write", async () => {
    const { d } = await boot({ secondStageAccessedDirty: true });
    const { entry } = await nested(d, { ssade: true, tablePerms: { 4: { read: true, write: false } } });
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SFS_6 });
  });

  it("[VTD-NEST-5] with SSADE = 1, 0x76 SFS.7 on a lower table; with SSADE = 0 the read is allowed and the A update faults SFS.8", async () => {
    const { d } = await boot({ secondStageAccessedDirty: true });
    const withSsade = await nested(d, { ssade: true, tablePerms: { 2: { read: true, write: false } } });
    await device(d, withSsade.entry);
    await expectFault(d, r(PASID, IOVA, { write: true }), { reason: S.SFS_7 });
    const { d: d2 } = await boot({ secondStageAccessedDirty: true });
    const without = await nested(d2, { tablePerms: { 2: { read: true, write: false } } });
    await device(d2, without.entry);
    await expectFault(d2, r(PASID, IOVA, { write: true }), { reason: S.SFS_8 });
  });

  it("[VTD-NEST-5] [VTD-SS-6] with SSADE = 1 a nested read sets A in the second-stage leaves it used, and D in those mapping the first-stage tables it updated", async () => {
    const { d } = await boot({ secondStageAccessedDirty: true });
    const { fs, ss, page, entry } = await nested(d, { ssade: true });
    await device(d, entry);
    expect(await landing(d, { sid: SID.A, pasid: PASID, iova: IOVA })).toBe(page);
    const ssLeaf = async (gpa: number) => {
      const walk = await ss.walk(BigInt(gpa));
      const leaf = walk.at(-1);
      if (leaf === undefined) throw new Error(`no second-stage entry for ${gpa}`);
      // Bits 8 (A) and 9 (D) are bits 0 and 1 of the entry's second byte.
      return ((await d.platform.readGuest(BigInt(leaf.addr), 8))[1] as number) & 3;
    };
    const A = 1;
    const D = 2;
    for (const level of [4, 3, 2, 1]) expect(await ssLeaf(await tablePageAt(fs, IOVA, level))).toBe(A | D);
    // The data page was read: accessed, not dirty.
    expect(await ssLeaf(page)).toBe(A);
  });

  it("[VTD-SS-6] 0x7C SSS.5: with SSADE = 1 and page walks that do not snoop, the second-stage A update faults", async () => {
    const { d } = await boot({ secondStageAccessedDirty: true });
    const ss = await d.newPageTable("second", 4);
    const page = await d.newDataPage(13);
    await ss.map(IOVA, page, "4K", { read: true, write: true });
    await device(d, {
      ...secondStageEntry(d.caps, { did: DID, ssptptr: ss.root, levels: 4, ssade: true }),
      pwsnp: false,
    });
    await expectFault(d, r(PASID), { reason: S.SSS_5 });
  });

  it("[VTD-NEST-2] 0x79 SSS.2: a first-stage table the second stage does not map", async () => {
    const { d } = await boot();
    const { entry } = await nested(d, { tablePerms: { 3: { read: false, write: false } } });
    await device(d, entry);
    await expectFault(d, r(PASID), { reason: S.SSS_2_SS_NONLEAF_NO_PERMISSION });
  });

  it("[VTD-NEST-4] 0x85 SGN.6 and 0x86 SGN.7: the output's second stage lacks the request's right", async () => {
    const { d } = await boot();
    const ro = await nested(d, { data: { read: true, write: false } });
    await device(d, ro.entry);
    await expectFault(d, r(PASID, IOVA, { write: true }), { reason: S.SGN_6_NO_WRITE });
    const { d: d2 } = await boot();
    const wo = await nested(d2, { data: { read: false, write: true } });
    await device(d2, wo.entry);
    await expectFault(d2, r(PASID), { reason: S.SGN_7_NO_READ });
  });

  it("[VTD-NEST-4] a supervisor write through a read-only first-stage page (WPE = 0) still needs second-stage write", async () => {
    const { d } = await boot();
    const { fs, ss, entry } = await nested(d);
    const page = await d.newDataPage(12);
    await fs.map(IOVA + 0x1000n, page, "4K", { write: false, user: true });
    await ss.map(BigInt(page), page, "4K", { read: true, write: false });
    await device(d, { ...entry, sre: true });
    await expectFault(d, r(PASID, IOVA + 0x1000n, { write: true, priv: true }), { reason: S.SGN_6_NO_WRITE });
  });
});
