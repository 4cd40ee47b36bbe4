/**
 * A register dump, as Linux's debugfs iommu/intel/iommu_regset makes one: every DMAR register read
 * at its own width, the variable-offset ones (IVA, IOTLB_REG, the fault recording registers) at
 * the offsets CAP and ECAP give (a fault record's lower half only while its F bit is set). Write-only registers are read too (GCMD, IVA: they read 0,
 * VTD-REG-14, VTD-REG-15); nothing read changes state (VTD-REG-1). The oracle judges what it
 * knows of each read: FSTS, fault records, and the completions a status read proves (ORACLE-JUDGE-5,
 * ORACLE-CTL-3).
 */
import fc from "fast-check";
import type { GuestWorld } from "../cases/guest-case-world.ts";
import { Reg } from "../spec/register-offsets.ts";
import { type GuestCommand, GuestCommandBase } from "./guest-command-base.ts";

/** The fixed-offset registers and their widths (VT-d 5.10 §11.4, Table 41). */
const FIXED: ReadonlyArray<readonly [number, 4 | 8]> = [
  [Reg.VER, 4],
  [Reg.CAP, 8],
  [Reg.ECAP, 8],
  [Reg.GCMD, 4],
  [Reg.GSTS, 4],
  [Reg.RTADDR, 8],
  [Reg.CCMD, 8],
  [Reg.FSTS, 4],
  [Reg.FECTL, 4],
  [Reg.FEDATA, 4],
  [Reg.FEADDR, 4],
  [Reg.FEUADDR, 4],
  [Reg.IQH, 8],
  [Reg.IQT, 8],
  [Reg.IQA, 8],
  [Reg.ICS, 4],
  [Reg.IECTL, 4],
  [Reg.IEDATA, 4],
  [Reg.IEADDR, 4],
  [Reg.IEUADDR, 4],
  [Reg.IQERCD, 8],
];

class RegisterDumpCmd extends GuestCommandBase {
  async act(w: GuestWorld) {
    const p = w.gc.model.platform;
    const caps = w.driver.caps;
    for (const [off, width] of FIXED) await p.readReg(off, width);
    await p.readReg(caps.iotlbRegOffset, 8);
    await p.readReg(caps.iotlbRegOffset + 8, 8);
    // A record's upper half first, its lower half only while F = 1, as the fault handler reads
    // them: the lower half of an empty record holds nothing to read.
    for (let i = 0; i < caps.faultRecords; i++) {
      const at = caps.faultRecordOffset + 16 * i;
      if ((await p.readReg(at + 8, 8)) >> 63n === 1n) await p.readReg(at, 8);
    }
  }
  toString() {
    return "register dump: every register at its width, IVA, IOTLB_REG and the fault recording registers included";
  }
}

/** The register dump, as one arbitrary command. */
export function registerDumpArb(): fc.Arbitrary<GuestCommand> {
  return fc.constant(new RegisterDumpCmd());
}
