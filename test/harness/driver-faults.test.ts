import { describe, expect, it } from "vitest";
import { fingerprintWord } from "../../src/contract/fingerprint.ts";
import { fillFingerprint, identifyRead } from "../../src/driver/data-pages.ts";
import { decodeFsts, readFaults } from "../../src/driver/faults.ts";
import type { FaultInfo } from "../../src/spec/invalidation-scope.ts";
import { FRCD_OFFSET, Fsts, Reg } from "../../src/spec/register-offsets.ts";
import { DoubleSurface } from "./driver-fixtures.ts";

const layout = { faultRecordOffset: FRCD_OFFSET, faultRecords: 4 };
const fault = (sid: number, reason = 0x59, over: Partial<FaultInfo> = {}): FaultInfo => ({
  reason,
  sid,
  write: false,
  priv: false,
  addr: 0x1234_5000n,
  ...over,
});

describe("fault reading", () => {
  it("[HARNESS-DRV-11] [VTD-FAULT-4] [VTD-FAULT-7] records are decoded from FRI and their F bits cleared", async () => {
    const s = new DoubleSurface();
    s.regs.faults.recordFault(fault(0x0010, 0x59, { pasid: 5, priv: true }));
    s.regs.faults.recordFault(fault(0x0108, 0x86, { write: true, addr: 0xabc_d000n }));
    const r = await readFaults(s, layout);
    expect(r.status).toMatchObject({ ppf: true, pfo: false, fri: 0 });
    expect(r.faults.map((f) => f.index)).toEqual([0, 1]);
    expect(r.faults[0]!.record).toMatchObject({
      f: true,
      fr: 0x59,
      sid: 0x10,
      pp: true,
      pv: 5,
      priv: true,
      t1: true,
    });
    expect(r.faults[0]!.reason).toBe("SPT_2_PASID_ENTRY_NOT_PRESENT");
    expect(r.faults[1]!.record).toMatchObject({ fr: 0x86, sid: 0x108, t1: false, fi: 0xabc_d000n });
    expect(decodeFsts(Number(await s.readReg(Reg.FSTS, 4))).ppf).toBe(false);
    // F was cleared with a 4-byte write to each record's top dword.
    const fWrites = s.log.filter((c) => c.op === "writeReg" && c.width === 4 && c.value === 0x8000_0000n);
    expect(fWrites.map((c) => (c as { off: number }).off)).toEqual([FRCD_OFFSET + 12, FRCD_OFFSET + 16 + 12]);
    // Later faults go on from the internal index; FRI names it.
    s.regs.faults.recordFault(fault(0x0290));
    const r2 = await readFaults(s, layout);
    expect(r2.status.fri).toBe(2);
    expect(r2.faults.map((f) => [f.index, f.record.sid])).toEqual([[2, 0x290]]);
  });

  it("[HARNESS-DRV-11] [VTD-FAULT-8] [VTD-FAULT-11] an overflow is read, then PFO is cleared and recording resumes", async () => {
    const s = new DoubleSurface();
    for (let i = 0; i < 5; i++) s.regs.faults.recordFault(fault(0x100 + i));
    const r = await readFaults(s, layout);
    expect(r.status.pfo).toBe(true);
    expect(r.faults.map((f) => f.record.sid)).toEqual([0x100, 0x101, 0x102, 0x103]);
    expect(s.regWrites(Reg.FSTS)).toEqual([1n << BigInt(Fsts.PFO)]);
    expect(decodeFsts(Number(await s.readReg(Reg.FSTS, 4)))).toMatchObject({ pfo: false, ppf: false });
    s.regs.faults.recordFault(fault(0x200));
    expect((await readFaults(s, layout)).faults.map((f) => f.record.sid)).toEqual([0x200]);
  });

  it("[HARNESS-DRV-11] clear: false leaves records and PFO as they are", async () => {
    const s = new DoubleSurface();
    s.regs.faults.recordFault(fault(0x10));
    const a = await readFaults(s, layout, { clear: false });
    const b = await readFaults(s, layout, { clear: false });
    expect(a.faults).toEqual(b.faults);
    expect(s.log.some((c) => c.op === "writeReg")).toBe(false);
  });
});

describe("fingerprinted data pages", () => {
  it("[HARNESS-DRV-12] a filled page identifies itself at any offset; other data identifies nothing", async () => {
    const s = new DoubleSurface();
    await fillFingerprint(s, 0x30_0000, 7);
    for (const off of [0, 8, 13, 4088]) {
      const data = await s.readGuest(BigInt(0x30_0000 + off), 8 + (off % 8 === 0 ? 0 : 8));
      const hit = identifyRead(data, 0x7777_0000n + BigInt(off));
      expect(hit).toEqual({ page: 0x30_0000, gpa: 0x30_0000 + off, tag: 7 });
    }
    expect(identifyRead(new Uint8Array(16), 0n)).toBeNull();
    // A fingerprint read at the wrong offset (the IOMMU shifted the page offset) is rejected.
    const shifted = await s.readGuest(0x30_0000n, 16);
    expect(identifyRead(shifted, 0x8n)).toBeNull();
    expect(fingerprintWord(0x30_0000, 7)).toBe(
      new DataView((await s.readGuest(0x30_0000n, 8)).buffer).getBigUint64(0, true),
    );
    await expect(fillFingerprint(s, 0x30_0008)).rejects.toThrow(/page aligned/);
  });
});
