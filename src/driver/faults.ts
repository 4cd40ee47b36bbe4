/**
 * [HARNESS-DRV-11] Reading primary fault records as a guest driver's fault handler does (VT-d 5.10 §7.2.1,
 * §11.4.7): read FSTS, visit the fault recording registers (CAP.FRO × 16, CAP.NFR + 1 of them)
 * starting at FSTS.FRI, read each one's high half first and the rest only when F is set, clear F by
 * writing 1 to it, and finally clear FSTS.PFO (write 1) so recording resumes.
 */

import { faultReasonName } from "../spec/fault-reasons.ts";
import { decodeFaultRecord, type FaultRecord } from "../spec/fault-record.ts";
import { Fsts, Reg } from "../spec/register-offsets.ts";
import type { RegisterAccess } from "./registers.ts";

/** [VTD-FAULT-8] FSTS, decoded. */
export interface FaultStatus {
  raw: number;
  pfo: boolean;
  ppf: boolean;
  iqe: boolean;
  ice: boolean;
  ite: boolean;
  /** Index of the first pending record (meaningful when ppf). */
  fri: number;
}

export function decodeFsts(v: number): FaultStatus {
  const b = (n: number) => ((v >>> n) & 1) === 1;
  return {
    raw: v >>> 0,
    pfo: b(Fsts.PFO),
    ppf: b(Fsts.PPF),
    iqe: b(Fsts.IQE),
    ice: b(Fsts.ICE),
    ite: b(Fsts.ITE),
    fri: (v >>> Fsts.FRI_LO) & 0xff,
  };
}

export interface RecordedFault {
  /** Index of the fault recording register. */
  index: number;
  record: FaultRecord;
  /** Register halves as read: bits 63:0 and 127:64. */
  lo: bigint;
  hi: bigint;
  /** Name of the reason code, e.g. "LCT_2_CONTEXT_NOT_PRESENT". */
  reason: string;
}

export interface FaultLayout {
  /** CAP.FRO × 16: offset of the first fault recording register. */
  faultRecordOffset: number;
  /** CAP.NFR + 1. */
  faultRecords: number;
}

export interface FaultReport {
  /** FSTS as first read. */
  status: FaultStatus;
  /** Records with F set, in the order visited (from FRI, wrapping). */
  faults: RecordedFault[];
}

/**
 * [VTD-FAULT-4] [VTD-FAULT-7] [VTD-FAULT-8] Read every pending fault record, from FRI around all
 * CAP.NFR + 1 registers (a record whose F is set is reported even if FSTS.PPF disagrees, so a
 * property can judge both). With `clear` (default), each F is cleared and FSTS.PFO then cleared;
 * `width` 4 reads each record as dwords, F's first (default 8: two 64-bit reads, upper half first);
 * FSTS.IQE is left to the queue driver.
 */
export async function readFaults(
  regs: RegisterAccess,
  layout: FaultLayout,
  opts: { clear?: boolean; width?: 4 | 8 } = {},
): Promise<FaultReport> {
  const clear = opts.clear ?? true;
  const status = decodeFsts(Number(await regs.readReg(Reg.FSTS, 4)));
  const n = Math.max(1, Math.min(256, layout.faultRecords));
  const start = status.ppf && status.fri < n ? status.fri : 0;
  const faults: RecordedFault[] = [];
  for (let k = 0; k < n; k++) {
    const index = (start + k) % n;
    const off = layout.faultRecordOffset + index * 16;
    const hi = await readQword(regs, off + 8, opts.width ?? 8, true);
    if (hi >> 63n === 0n) continue;
    const lo = await readQword(regs, off, opts.width ?? 8, false);
    const record = decodeFaultRecord(lo, hi);
    faults.push({ index, record, lo, hi, reason: faultReasonName(record.fr) });
    // F is write-1-to-clear in the register's top dword (Linux writes DMA_FRCD_F there).
    if (clear) await regs.writeReg(off + 12, 0x8000_0000n, 4);
  }
  if (clear && status.pfo) await regs.writeReg(Reg.FSTS, 1n << BigInt(Fsts.PFO), 4);
  return { status, faults };
}

/**
 * 64 bits of a fault record, in one read or as two dwords (a 32-bit driver's choice, §11.4.14);
 * `topFirst` reads the upper dword first (the one holding F, for bits 127:64).
 */
async function readQword(
  regs: RegisterAccess,
  off: number,
  width: 4 | 8,
  topFirst: boolean,
): Promise<bigint> {
  if (width === 8) return regs.readReg(off, 8);
  if (topFirst) {
    const top = await regs.readReg(off + 4, 4);
    if (top >> 31n === 0n) return top << 32n; // F clear: the rest is not read
    return (top << 32n) | (await regs.readReg(off, 4));
  }
  const low = await regs.readReg(off, 4);
  return ((await regs.readReg(off + 4, 4)) << 32n) | low;
}

/** Clear FSTS status bits (write 1 to clear): PFO, IQE, ICE, ITE as selected. */
export async function clearFaultStatus(
  regs: RegisterAccess,
  which: { pfo?: boolean; iqe?: boolean; ice?: boolean; ite?: boolean },
): Promise<void> {
  let v = 0;
  if (which.pfo) v |= 1 << Fsts.PFO;
  if (which.iqe) v |= 1 << Fsts.IQE;
  if (which.ice) v |= 1 << Fsts.ICE;
  if (which.ite) v |= 1 << Fsts.ITE;
  if (v !== 0) await regs.writeReg(Reg.FSTS, BigInt(v), 4);
}
