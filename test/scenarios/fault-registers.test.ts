/**
 * Fault recording through the registers, driven by real faulting DMAs: FRCD records with F,
 * FSTS.PPF/FRI/PFO, compression of faults from a SID with a pending record, write-1-to-clear,
 * the fault event in FECTL, and the index reset when translation is disabled [VTD-FAULT-4]
 * [VTD-FAULT-6] .. [VTD-FAULT-11].
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import { legacyTranslate } from "../../src/driver/entries.ts";
import { globalCommand } from "../../src/driver/registers.ts";
import { LegacyFault as L } from "../../src/spec/fault-reasons.ts";
import { EventCtl, Gcmd, Reg } from "../../src/spec/register-offsets.ts";
import { boot, LEGACY_ONLY, request, SID } from "./fixtures.ts";

const IOVA = 0x4000_0000n;
const IM = (1 << EventCtl.IM) >>> 0;
const IP = 1 << EventCtl.IP;

/** Legacy-only unit with `records` fault records; only SID.A has a context entry on bus 1. */
async function faulting(records: number) {
  const { d } = await boot({ ...LEGACY_ONLY, faultRecords: records });
  const rt = await d.newRootTable("legacy");
  const ss = await d.newPageTable("second", 4);
  await rt.setLegacyContext(SID.A, legacyTranslate(1, ss.root, 4));
  await d.enable(rt);
  return d;
}

/** A read from bus 1, devfn `devfn` (no context entry: LCT.2), at a page telling the faults apart. */
const fault = (d: GuestDriver, devfn: number, page = devfn) =>
  d.platform.dma(request({ sid: 0x0100 | devfn, iova: IOVA + BigInt(page) * 0x1000n, write: false }));

const fsts = async (d: GuestDriver) => Number(await d.platform.readReg(Reg.FSTS, 4));
const fectl = async (d: GuestDriver) => Number(await d.platform.readReg(Reg.FECTL, 4));
const frcdHi = (d: GuestDriver, i: number) => d.platform.readReg(d.caps.faultRecordOffset + 16 * i + 8, 8);
const frcdLo = (d: GuestDriver, i: number) => d.platform.readReg(d.caps.faultRecordOffset + 16 * i, 8);
const fBit = async (d: GuestDriver, i: number) => (await frcdHi(d, i)) >> 63n;
const clearF = (d: GuestDriver, i: number) =>
  d.platform.writeReg(d.caps.faultRecordOffset + 16 * i + 12, 0x8000_0000n, 4);

describe("fault recording registers", () => {
  it("[VTD-FAULT-4] [VTD-FAULT-6] [VTD-FAULT-8] the first fault fills record 0: F, reason, SID, FI; PPF with FRI 0", async () => {
    const d = await faulting(4);
    expect(await fsts(d)).toBe(0);
    await fault(d, 0x20, 3);
    expect(await fsts(d)).toBe(1 << 1);
    const hi = await frcdHi(d, 0);
    expect(hi >> 63n).toBe(1n);
    expect(Number((hi >> 32n) & 0xffn)).toBe(L.LCT_2_CONTEXT_NOT_PRESENT);
    expect(Number(hi & 0xffffn)).toBe(0x0120);
    expect((hi >> 62n) & 1n).toBe(1n); // T1: read
    expect(await frcdLo(d, 0)).toBe(IOVA + 0x3000n);
  });

  it("[VTD-FAULT-6] faults from other SIDs fill the next records; FRI stays on the oldest pending one", async () => {
    const d = await faulting(4);
    await fault(d, 0x20);
    await fault(d, 0x21);
    await fault(d, 0x22);
    expect([await fBit(d, 0), await fBit(d, 1), await fBit(d, 2), await fBit(d, 3)]).toEqual([
      1n,
      1n,
      1n,
      0n,
    ]);
    expect((await fsts(d)) >>> 8).toBe(0);
    await clearF(d, 0);
    // FRI is only updated when PPF was clear: it keeps naming record 0 while 1 and 2 are pending.
    await fault(d, 0x23);
    expect([await fBit(d, 0), await fBit(d, 3)]).toEqual([0n, 1n]);
    expect((await fsts(d)) & 0xff02).toBe(2);
  });

  it("[VTD-FAULT-6] a second fault from a SID with a pending record is compressed (dropped)", async () => {
    const d = await faulting(4);
    await fault(d, 0x20, 1);
    await fault(d, 0x20, 2);
    expect(await fBit(d, 1)).toBe(0n);
    expect(await frcdLo(d, 0)).toBe(IOVA + 0x1000n);
    // Once the record is cleared, the SID records again, at the next index.
    await clearF(d, 0);
    await fault(d, 0x20, 3);
    expect(await fBit(d, 1)).toBe(1n);
    expect(await frcdLo(d, 1)).toBe(IOVA + 0x3000n);
    expect((await fsts(d)) >>> 8).toBe(1);
  });

  it("[VTD-FAULT-6] [VTD-FAULT-11] a full set of records overflows into PFO; nothing is recorded until PFO is cleared", async () => {
    const d = await faulting(2);
    await fault(d, 0x20);
    await fault(d, 0x21);
    await fault(d, 0x22); // the record at the index is pending: PFO
    expect((await fsts(d)) & 3).toBe(3);
    await clearF(d, 0);
    await fault(d, 0x23); // PFO still set: dropped even though record 0 is free
    expect(await fBit(d, 0)).toBe(0n);
    await d.platform.writeReg(Reg.FSTS, 1n, 4);
    expect((await fsts(d)) & 1).toBe(0);
    await fault(d, 0x24, 9);
    expect(await fBit(d, 0)).toBe(1n);
    expect(await frcdLo(d, 0)).toBe(IOVA + 0x9000n);
  });

  it("[VTD-FAULT-7] [VTD-FAULT-8] F is write-1-to-clear in the top dword only; other fields and PPF/FRI are read-only", async () => {
    const d = await faulting(4);
    await fault(d, 0x20);
    const hi = await frcdHi(d, 0);
    const off = d.caps.faultRecordOffset;
    await d.platform.writeReg(off + 8, 0xffff_ffffn, 4); // low dword of the high half: no F
    await d.platform.writeReg(off + 12, 0x7fff_ffffn, 4); // top dword without bit 31
    await d.platform.writeReg(off, 0n, 8); // FI is read-only
    await d.platform.writeReg(Reg.FSTS, 0xff02n, 4); // PPF and FRI are read-only
    expect(await frcdHi(d, 0)).toBe(hi);
    expect(await frcdLo(d, 0)).toBe(IOVA + 0x20000n);
    expect((await fsts(d)) & 2).toBe(2);
    await d.platform.writeReg(off + 8, 1n << 63n, 8); // an 8-byte write with F set clears it
    expect(await fBit(d, 0)).toBe(0n);
    expect(await fsts(d)).toBe(0);
    expect(await frcdHi(d, 0)).toBe(hi & ~(1n << 63n)); // the rest keeps the last record
  });

  it("[VTD-FAULT-9] the fault event: IP held while IM = 1, sent when IM clears; with IM = 0 nothing is held", async () => {
    const d = await faulting(4);
    expect(await fectl(d)).toBe(IM);
    await fault(d, 0x20);
    expect(await fectl(d)).toBe((IM | IP) >>> 0);
    await d.platform.writeReg(Reg.FECTL, 0n, 4);
    expect(await fectl(d)).toBe(0);
    await clearF(d, 0);
    await fault(d, 0x21);
    expect(await fectl(d)).toBe(0);
    // Masked again: a pending status (record 1) means a new fault raises no new event.
    await d.platform.writeReg(Reg.FECTL, BigInt(IM), 4);
    await fault(d, 0x22);
    expect(await fectl(d)).toBe(IM);
    // FEDATA / FEADDR / FEUADDR are read-write.
    await d.platform.writeReg(Reg.FEDATA, 0xabcd_1234n, 4);
    await d.platform.writeReg(Reg.FEADDR, 0xfee0_1007n, 4);
    await d.platform.writeReg(Reg.FEUADDR, 0x1234n, 4);
    expect(Number(await d.platform.readReg(Reg.FEDATA, 4))).toBe(0x1234);
    expect(Number(await d.platform.readReg(Reg.FEADDR, 4))).toBe(0xfee0_1004);
    expect(Number(await d.platform.readReg(Reg.FEUADDR, 4))).toBe(0x1234);
  });

  it("[VTD-FAULT-9] a held event is dropped once every status is serviced", async () => {
    const d = await faulting(4);
    await fault(d, 0x20);
    expect(await fectl(d)).toBe((IM | IP) >>> 0);
    await clearF(d, 0);
    expect(await fectl(d)).toBe(IM);
  });

  it("[VTD-FAULT-10] disabling translation resets the recording index to 0", async () => {
    const d = await faulting(4);
    await fault(d, 0x20);
    await fault(d, 0x21);
    await clearF(d, 0);
    await clearF(d, 1);
    await d.disable();
    await globalCommand(d.platform, Gcmd.TE, true);
    await fault(d, 0x22, 5);
    expect(await fBit(d, 0)).toBe(1n);
    expect(await frcdLo(d, 0)).toBe(IOVA + 0x5000n);
    expect(await fBit(d, 2)).toBe(0n);
  });

  it("[HARNESS-DRV-11] [VTD-FAULT-8] readFaults visits records from FRI and clears them and PFO", async () => {
    const d = await faulting(2);
    await fault(d, 0x20);
    await fault(d, 0x21);
    await fault(d, 0x22);
    const r = await d.readFaults();
    expect(r.status).toMatchObject({ ppf: true, pfo: true, fri: 0 });
    expect(r.faults.map((f) => f.record.sid)).toEqual([0x0120, 0x0121]);
    expect(await fsts(d)).toBe(0);
  });
});
