/**
 * The 128-bit fault recording register (VT-d 5.10 §11.4.7.6), as two 64-bit words:
 * lo = bits 63:0 (FI 63:12), hi = bits 127:64 (F 127, T1 126, AT 125:124, PV 123:104,
 * FR 103:96, PP 95, EXE 94, PRIV 93, T2 92, SID 79:64). See spec/faults.md.
 */
import { bit, field, mask, withBit, withBits } from "./word.ts";

export interface FaultRecord {
  /** Fault: a record is logged here (write 1 to clear). */
  f: boolean;
  /** T1 ‖ T2: 00 write, 01 page request, 10 read, 11 AtomicOp. */
  t1: boolean;
  t2: boolean;
  /** Address type: 0 untranslated, 1 translation request, 2 translated. */
  at: number;
  /** PASID value (meaningful when pp). */
  pv: number;
  /** Fault reason. */
  fr: number;
  /** PASID present. */
  pp: boolean;
  exe: boolean;
  priv: boolean;
  sid: number;
  /** Page address of the faulted request (bits 63:12; low 12 bits zero). */
  fi: bigint;
}

/** [VTD-FAULT-4] Reserved bits: lo 11:0, hi 91:80 (= hi word bits 27:16). */
export const FAULT_RECORD_RESERVED = { lo: mask(11, 0), hi: mask(27, 16) } as const;

/** [VTD-FAULT-4] Encode a fault record into its two 64-bit halves. */
export function encodeFaultRecord(r: FaultRecord): { lo: bigint; hi: bigint } {
  const lo = r.fi & mask(63, 12);
  let hi = 0n;
  hi = withBits(hi, 15, 0, r.sid);
  hi = withBit(hi, 28, r.t2);
  hi = withBit(hi, 29, r.priv);
  hi = withBit(hi, 30, r.exe);
  hi = withBit(hi, 31, r.pp);
  hi = withBits(hi, 39, 32, r.fr);
  hi = withBits(hi, 59, 40, r.pv);
  hi = withBits(hi, 61, 60, r.at);
  hi = withBit(hi, 62, r.t1);
  hi = withBit(hi, 63, r.f);
  return { lo, hi };
}

/** [VTD-FAULT-4] Decode the two halves of a fault recording register. */
export function decodeFaultRecord(lo: bigint, hi: bigint): FaultRecord {
  return {
    f: bit(hi, 63),
    t1: bit(hi, 62),
    at: field(hi, 61, 60),
    pv: field(hi, 59, 40),
    fr: field(hi, 39, 32),
    pp: bit(hi, 31),
    exe: bit(hi, 30),
    priv: bit(hi, 29),
    t2: bit(hi, 28),
    sid: field(hi, 15, 0),
    fi: lo & mask(63, 12),
  };
}

/** The request type a record reports (T1 ‖ T2). */
export function faultRecordType(r: FaultRecord): "write" | "page-request" | "read" | "atomic" {
  if (r.t1) return r.t2 ? "atomic" : "read";
  return r.t2 ? "page-request" : "write";
}
