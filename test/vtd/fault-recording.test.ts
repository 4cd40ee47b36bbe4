import { describe, expect, it } from "vitest";
import { LegacyFault, ScalableFault } from "../../src/spec/fault-reasons.ts";
import { decodeFaultRecord } from "../../src/spec/fault-record.ts";
import type { FaultInfo } from "../../src/spec/invalidation-scope.ts";
import { FRCD_OFFSET, Gcmd, Reg } from "../../src/spec/register-offsets.ts";
import { FaultRecording, isQualifiedFault } from "../../src/vtd/fault-recording.ts";
import type { DmarRegisters } from "../../src/vtd/registers.ts";
import { gcmd, platform, setRootTable } from "./control-path-fixtures.ts";

const fault = (sid: number, over: Partial<FaultInfo> = {}): FaultInfo => ({
  reason: ScalableFault.SPT_2_PASID_ENTRY_NOT_PRESENT,
  sid,
  write: false,
  priv: false,
  addr: 0x1234_5000n,
  ...over,
});

const fsts = (regs: DmarRegisters) => Number(regs.read(Reg.FSTS, 4));
const fectl = (regs: DmarRegisters) => Number(regs.read(Reg.FECTL, 4)) >>> 0;
const record = (regs: DmarRegisters, i: number) =>
  decodeFaultRecord(regs.read(FRCD_OFFSET + 16 * i, 8), regs.read(FRCD_OFFSET + 16 * i + 8, 8));
const clearF = (regs: DmarRegisters, i: number) => regs.write(FRCD_OFFSET + 16 * i + 12, 1n << 31n, 4);

const PPF = 1 << 1;
const PFO = 1 << 0;
const IM = 1 << 31;
const IP = 1 << 30;

describe("primary fault logging", () => {
  it("[VTD-FAULT-6] [VTD-FAULT-5] a fault fills the first record, sets PPF with FRI and raises a held event", () => {
    const { regs } = platform();
    regs.faults.recordFault(fault(0x0810, { pasid: 0x42, priv: true, write: true }));
    expect(record(regs, 0)).toEqual({
      f: true,
      t1: false,
      t2: false,
      at: 0,
      pv: 0x42,
      fr: 0x59,
      pp: true,
      exe: false,
      priv: true,
      sid: 0x0810,
      fi: 0x1234_5000n,
    });
    expect(fsts(regs)).toBe(PPF);
    expect(fectl(regs)).toBe((IM | IP) >>> 0);
    expect(regs.faults.eventsSent).toBe(0);
  });

  it("[VTD-FAULT-6] later faults from other sources fill the next records; FRI stays on the first pending one", () => {
    const { regs } = platform();
    regs.faults.recordFault(fault(1));
    regs.faults.recordFault(fault(2, { reason: ScalableFault.SGN_7_NO_READ }));
    expect(record(regs, 1)).toMatchObject({ f: true, sid: 2, fr: 0x86, t1: true });
    expect((fsts(regs) >> 8) & 0xff).toBe(0);
    clearF(regs, 0);
    regs.faults.recordFault(fault(3));
    expect((fsts(regs) >> 8) & 0xff).toBe(0);
    clearF(regs, 1);
    clearF(regs, 2);
    expect(fsts(regs)).toBe(0);
    regs.faults.recordFault(fault(4));
    expect(fsts(regs)).toBe(PPF | (3 << 8));
  });

  it("[VTD-FAULT-6] a fault from a source with a pending record is compressed into it", () => {
    const { regs } = platform();
    regs.faults.recordFault(fault(7, { addr: 0x1000n }));
    regs.faults.recordFault(fault(7, { addr: 0x2000n, reason: 0x71 }));
    expect(record(regs, 0)).toMatchObject({ sid: 7, fi: 0x1000n });
    expect(record(regs, 1).f).toBe(false);
    expect(regs.faults.counters).toEqual({ recorded: 1, compressed: 1, droppedOverflow: 0 });
    clearF(regs, 0);
    regs.faults.recordFault(fault(7, { addr: 0x3000n }));
    expect(record(regs, 1)).toMatchObject({ f: true, sid: 7, fi: 0x3000n });
  });

  it("[VTD-FAULT-6] [VTD-FAULT-11] with every record full the next fault sets PFO; faults are dropped until PFO is cleared", () => {
    const { regs } = platform({ faultRecords: 2 });
    regs.faults.recordFault(fault(1));
    regs.faults.recordFault(fault(2));
    regs.faults.recordFault(fault(3));
    expect(fsts(regs)).toBe(PPF | PFO);
    // Clearing the records is not enough: PFO still drops new faults.
    clearF(regs, 0);
    clearF(regs, 1);
    regs.faults.recordFault(fault(4));
    expect(record(regs, 0).f).toBe(false);
    expect(fsts(regs)).toBe(PFO);
    regs.write(Reg.FSTS, BigInt(PFO), 4);
    expect(fsts(regs)).toBe(0);
    // Recording resumes at the internal index (0, after two records in a 2-record file).
    regs.faults.recordFault(fault(5));
    expect(record(regs, 0)).toMatchObject({ f: true, sid: 5 });
    expect(regs.faults.counters.droppedOverflow).toBe(2);
  });

  it("[VTD-FAULT-7] only F is writable, as write-1-to-clear, in either access width", () => {
    const { regs } = platform();
    regs.faults.recordFault(fault(9));
    const hi = FRCD_OFFSET + 8;
    regs.write(hi, 0n, 8);
    regs.write(FRCD_OFFSET, 0n, 8);
    expect(record(regs, 0)).toMatchObject({ f: true, sid: 9, fi: 0x1234_5000n });
    regs.write(hi, 0x7fff_ffff_ffff_ffffn, 8);
    expect(record(regs, 0)).toMatchObject({ f: true, sid: 9, fr: 0x59 });
    regs.write(hi, 1n << 63n, 8);
    expect(record(regs, 0)).toMatchObject({ f: false, sid: 9, fr: 0x59 });
    expect(fsts(regs) & PPF).toBe(0);
    // A 4-byte write to the low dword of the high word cannot clear F.
    regs.faults.recordFault(fault(10));
    regs.write(FRCD_OFFSET + 16 + 8, 0xffff_ffffn, 4);
    expect(record(regs, 1).f).toBe(true);
  });

  it("[VTD-FAULT-5] without ECAP.PASID the PASID fields read 0; FI keeps only bits below the largest address width", () => {
    const { regs } = platform({
      scalable: false,
      firstStage: false,
      pasidBits: 0,
      supervisorRequests: false,
      fs1gp: false,
      awBits: 39,
    });
    regs.faults.recordFault(
      fault(1, {
        reason: LegacyFault.LGN_2_NO_WRITE,
        pasid: 5,
        priv: true,
        write: true,
        addr: (1n << 45n) | 0x7000n,
      }),
    );
    expect(record(regs, 0)).toMatchObject({ pp: false, pv: 0, priv: false, fr: 5, t1: false, fi: 0x7000n });
  });

  it("[VTD-FAULT-8] FSTS: PFO and IQE are write-1-to-clear, PPF and FRI are read-only", () => {
    const { regs } = platform();
    regs.faults.recordFault(fault(1));
    regs.faults.raiseQueueError();
    regs.write(Reg.FSTS, 0xffff_fffen & ~0x11n, 4);
    expect(fsts(regs)).toBe(PPF | (1 << 4));
    regs.write(Reg.FSTS, 0xffn, 4);
    expect(fsts(regs)).toBe(PPF);
  });
});

describe("fault event", () => {
  it("[VTD-FAULT-9] an unmasked event is sent at once; a second condition while one is pending sends nothing", () => {
    const { regs } = platform();
    regs.write(Reg.FECTL, 0n, 4);
    regs.faults.recordFault(fault(1));
    expect(regs.faults.eventsSent).toBe(1);
    expect(fectl(regs)).toBe(0);
    regs.faults.recordFault(fault(2));
    regs.faults.raiseQueueError();
    expect(regs.faults.eventsSent).toBe(1);
    clearF(regs, 0);
    clearF(regs, 1);
    regs.write(Reg.FSTS, 1n << 4n, 4);
    regs.faults.recordFault(fault(3));
    expect(regs.faults.eventsSent).toBe(2);
  });

  it("[VTD-FAULT-9] a masked event stays pending in IP until IM clears, or is dropped once every status is serviced", () => {
    const { regs } = platform();
    regs.faults.recordFault(fault(1));
    expect(fectl(regs)).toBe((IM | IP) >>> 0);
    regs.write(Reg.FECTL, BigInt(IM >>> 0), 4);
    expect(fectl(regs)).toBe((IM | IP) >>> 0);
    regs.write(Reg.FECTL, 0n, 4);
    expect(fectl(regs)).toBe(0);
    expect(regs.faults.eventsSent).toBe(1);
    regs.write(Reg.FECTL, BigInt(IM >>> 0), 4);
    clearF(regs, 0);
    regs.faults.recordFault(fault(2));
    expect(fectl(regs) & IP).not.toBe(0);
    clearF(regs, 1);
    expect(fectl(regs)).toBe(IM >>> 0);
    regs.write(Reg.FECTL, 0n, 4);
    expect(regs.faults.eventsSent).toBe(1);
  });

  it("[VTD-FAULT-9] FEDATA, FEADDR and FEUADDR hold their implemented bits", () => {
    const { regs } = platform();
    regs.write(Reg.FEDATA, 0xffff_ffffn, 4);
    regs.write(Reg.FEADDR, 0xfee0_0003n, 4);
    regs.write(Reg.FEUADDR, 0x1234n, 4);
    expect(regs.read(Reg.FEDATA, 4)).toBe(0xffffn);
    expect(regs.read(Reg.FEADDR, 4)).toBe(0xfee0_0000n);
    expect(regs.read(Reg.FEUADDR, 4)).toBe(0x1234n);
  });

  it("[VTD-FAULT-10] disabling translation resets the internal index to 0", () => {
    const { regs } = platform();
    setRootTable(regs, 0x1000, 1);
    gcmd(regs, Gcmd.TE, true);
    regs.faults.recordFault(fault(1));
    regs.faults.recordFault(fault(2));
    clearF(regs, 0);
    clearF(regs, 1);
    gcmd(regs, Gcmd.TE, false);
    gcmd(regs, Gcmd.TE, true);
    regs.faults.recordFault(fault(3));
    expect(record(regs, 0)).toMatchObject({ f: true, sid: 3 });
    expect(record(regs, 2).f).toBe(false);
  });
});

describe("fault reasons", () => {
  it("[VTD-FAULT-1] [VTD-FAULT-2] [VTD-FAULT-3] root, context-access, PASID-directory-access and PASID-entry-access faults are not qualified", () => {
    const unqualified = [
      0x1, 0x8, 0x9, 0xa, 0x30, 0x31, 0x32, 0x33, 0x34, 0x38, 0x39, 0x3a, 0x40, 0x50, 0x58,
    ];
    const qualified = [
      0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0x41, 0x43, 0x48, 0x51, 0x52, 0x59, 0x5b,
    ];
    const more = [
      0x5d, 0x70, 0x71, 0x77, 0x78, 0x7d, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x89, 0x90, 0x91,
    ];
    for (const r of unqualified) expect(isQualifiedFault(r), `0x${r.toString(16)}`).toBe(false);
    for (const r of [...qualified, ...more]) expect(isQualifiedFault(r), `0x${r.toString(16)}`).toBe(true);
    expect(isQualifiedFault(0xff)).toBe(false);
  });

  it("[VTD-FAULT-6] fault recording needs 1..256 records", () => {
    expect(() => new FaultRecording({ records: 0, pasidSupported: true, faultInfoBits: 48 })).toThrow(
      RangeError,
    );
    expect(() => new FaultRecording({ records: 257, pasidSupported: true, faultInfoBits: 48 })).toThrow(
      RangeError,
    );
    expect(new FaultRecording({ records: 256, pasidSupported: true, faultInfoBits: 48 }).recordCount).toBe(
      256,
    );
  });
});
