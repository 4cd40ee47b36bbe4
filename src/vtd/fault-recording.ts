/**
 * Primary fault logging (VT-d 5.10 §7.2.1), the fault event (§7.3) and the registers behind
 * them: FSTS, FECTL, FEDATA, FEADDR, FEUADDR and the fault recording registers (§11.4.7).
 * No interrupt is delivered; FECTL.IP shows a pending event and `eventsSent` counts the
 * messages an unmasked event would have sent. See spec/faults.md.
 */

import { LegacyFault, ScalableFault } from "../spec/fault-reasons.ts";
import { decodeFaultRecord, encodeFaultRecord, type FaultRecord } from "../spec/fault-record.ts";
import type { FaultInfo } from "../spec/invalidation-scope.ts";
import { EventCtl, Fsts } from "../spec/register-offsets.ts";
import { bit, mask } from "../spec/word.ts";
import type { FaultSink } from "./interfaces.ts";

/**
 * [VTD-FAULT-1] [VTD-FAULT-2] Reasons that are not "qualified" (Table 30): fault processing
 * disable (FPD) never suppresses them. Every other known reason is qualified.
 */
const UNQUALIFIED = new Set<number>([
  LegacyFault.LRT_2_ROOT_NOT_PRESENT,
  LegacyFault.LRT_1_ROOT_ACCESS,
  LegacyFault.LCT_1_CONTEXT_ACCESS,
  LegacyFault.LRT_3_ROOT_RESERVED,
  ScalableFault.RTA_1_INVALID_RTADDR,
  ScalableFault.RTA_2_LEGACY_TTM_WITH_PASID,
  ScalableFault.RTA_3,
  ScalableFault.RTA_4_ABORT_DMA_MODE,
  ScalableFault.RTA_5,
  ScalableFault.SRT_1_ROOT_ACCESS,
  ScalableFault.SRT_2_ROOT_NOT_PRESENT,
  ScalableFault.SRT_3_ROOT_RESERVED,
  ScalableFault.SCT_1_CONTEXT_ACCESS,
  ScalableFault.SPD_1_PASID_DIR_ACCESS,
  ScalableFault.SPT_1_PASID_ENTRY_ACCESS,
]);

const KNOWN = new Set<number>([...Object.values(LegacyFault), ...Object.values(ScalableFault)]);

/** [VTD-FAULT-3] True when FPD may suppress recording of this reason; unknown codes are not qualified. */
export function isQualifiedFault(reason: number): boolean {
  return KNOWN.has(reason) && !UNQUALIFIED.has(reason);
}

export interface FaultRecordingOptions {
  /** CAP.NFR + 1 fault recording registers (1..256). */
  records: number;
  /** ECAP.PASID: PP, PV, PRIV and EXE are implemented; otherwise they read 0. */
  pasidSupported: boolean;
  /** Largest input address width: FI bits at and above it are recorded as 0. */
  faultInfoBits: number;
}

/** Counters for diagnostics and tests. */
export interface FaultCounters {
  recorded: number;
  compressed: number;
  droppedOverflow: number;
}

export class FaultRecording implements FaultSink {
  private readonly lo: bigint[];
  private readonly hi: bigint[];
  /** [VTD-FAULT-6] Internal index of the register the next fault goes to. */
  private index = 0;
  private fri = 0;
  private pfo = false;
  private iqe = false;
  private im = true;
  private ip = false;
  private fedata = 0;
  private feaddr = 0;
  private feuaddr = 0;
  /** Fault event messages an unmasked event would have sent. */
  eventsSent = 0;
  readonly counters: FaultCounters = { recorded: 0, compressed: 0, droppedOverflow: 0 };

  constructor(private readonly opts: FaultRecordingOptions) {
    if (!Number.isInteger(opts.records) || opts.records < 1 || opts.records > 256)
      throw new RangeError(`fault records must be 1..256, got ${opts.records}`);
    this.lo = new Array<bigint>(opts.records).fill(0n);
    this.hi = new Array<bigint>(opts.records).fill(0n);
  }

  get recordCount(): number {
    return this.opts.records;
  }

  /** [VTD-FAULT-7] PPF is the OR of the F bits. */
  get ppf(): boolean {
    return this.hi.some((h) => bit(h, 63));
  }

  /** FSTS.IQE, read by the invalidation queue. */
  get queueErrorPending(): boolean {
    return this.iqe;
  }

  /** [VTD-FAULT-6] Primary fault logging of one non-recoverable fault. */
  recordFault(info: FaultInfo): void {
    if (this.pfo) {
      this.counters.droppedOverflow++;
      return;
    }
    const sid = info.sid & 0xffff;
    // Compression: a pending record from the same source id absorbs this fault.
    for (let i = 0; i < this.opts.records; i++) {
      const h = this.hi[i] as bigint;
      if (bit(h, 63) && Number(h & 0xffffn) === sid) {
        this.counters.compressed++;
        return;
      }
    }
    const at = this.index;
    if (bit(this.hi[at] as bigint, 63)) {
      this.pfo = true;
      this.counters.droppedOverflow++;
      return;
    }
    const rec = this.recordFor(info);
    const { lo, hi } = encodeFaultRecord({ ...rec, f: false });
    this.lo[at] = lo;
    this.hi[at] = hi;
    if (!this.ppf) this.fri = at;
    this.signal(() => {
      this.hi[at] = (this.hi[at] as bigint) | (1n << 63n);
    });
    this.index = (at + 1) % this.opts.records;
    this.counters.recorded++;
  }

  /** [VTD-FAULT-5] The record a fault produces. */
  recordFor(info: FaultInfo): FaultRecord {
    const pp = this.opts.pasidSupported && info.pasid !== undefined;
    return {
      f: true,
      t1: !info.write,
      t2: false,
      at: 0,
      pv: pp ? (info.pasid as number) & 0xfffff : 0,
      fr: info.reason & 0xff,
      pp,
      exe: false,
      priv: pp && info.priv,
      sid: info.sid & 0xffff,
      fi: info.addr & mask(Math.min(63, this.opts.faultInfoBits - 1), 12),
    };
  }

  /** [VTD-QI-10] The invalidation queue detected an error: set FSTS.IQE. */
  raiseQueueError(): void {
    if (!this.iqe) this.signal(() => (this.iqe = true));
  }

  /** [VTD-FAULT-10] The internal index returns to 0 when translation is disabled. */
  resetIndex(): void {
    this.index = 0;
  }

  /** Decoded snapshot of every fault recording register. */
  snapshot(): FaultRecord[] {
    return this.lo.map((lo, i) => decodeFaultRecord(lo, this.hi[i] as bigint));
  }

  // ---- register interface (32-bit registers as numbers, 64-bit halves as bigint)

  /** [VTD-FAULT-8] FSTS: FRI 15:8 (valid with PPF), ITE 6, ICE 5, IQE 4, PPF 1, PFO 0. */
  readFsts(): number {
    const ppf = this.ppf;
    return (
      (ppf ? (this.fri << Fsts.FRI_LO) | (1 << Fsts.PPF) : 0) |
      (this.iqe ? 1 << Fsts.IQE : 0) |
      (this.pfo ? 1 << Fsts.PFO : 0)
    );
  }

  /** [VTD-FAULT-8] PFO, IQE, ICE and ITE are write-1-to-clear; FRI and PPF are read-only. */
  writeFsts(value: number): void {
    if (value & (1 << Fsts.PFO)) this.pfo = false;
    if (value & (1 << Fsts.IQE)) this.iqe = false;
    this.serviced();
  }

  /** [VTD-FAULT-9] FECTL: IM 31 (reset 1), IP 30. */
  readFectl(): number {
    return ((this.im ? 1 << EventCtl.IM : 0) | (this.ip ? 1 << EventCtl.IP : 0)) >>> 0;
  }

  /** [VTD-FAULT-9] Clearing IM while IP is set sends the held event. */
  writeFectl(value: number): void {
    const im = (value & (1 << EventCtl.IM)) !== 0;
    if (this.im && !im && this.ip) {
      this.ip = false;
      this.eventsSent++;
    }
    this.im = im;
  }

  readFedata(): number {
    return this.fedata;
  }
  writeFedata(v: number): void {
    this.fedata = v & 0xffff;
  }
  readFeaddr(): number {
    return this.feaddr;
  }
  writeFeaddr(v: number): void {
    this.feaddr = (v & ~3) >>> 0;
  }
  readFeuaddr(): number {
    return this.feuaddr;
  }
  writeFeuaddr(v: number): void {
    this.feuaddr = v >>> 0;
  }

  /** [VTD-FAULT-4] Low (bits 63:0) or high (bits 127:64) word of record i. */
  readRecord(i: number, high: boolean): bigint {
    return (high ? this.hi[i] : this.lo[i]) ?? 0n;
  }

  /**
   * [VTD-FAULT-7] Writes to a record: only F (bit 127) is writable, as write-1-to-clear;
   * `writeMask` says which bits of the high word the access covered.
   */
  writeRecordHigh(i: number, value: bigint, writeMask: bigint): void {
    const h = this.hi[i];
    if (h === undefined) return;
    const f = 1n << 63n;
    if ((writeMask & f) !== 0n && (value & f) !== 0n && (h & f) !== 0n) {
      this.hi[i] = h & ~f;
      this.serviced();
    }
  }

  /** [VTD-FAULT-9] Raise an interrupt condition unless one is already outstanding. */
  private signal(set: () => void): void {
    const outstanding = this.ppf || this.pfo || this.iqe;
    set();
    if (outstanding) return;
    this.ip = true;
    if (!this.im) {
      this.ip = false;
      this.eventsSent++;
    }
  }

  /** [VTD-FAULT-9] IP clears once software has serviced every status condition. */
  private serviced(): void {
    if (!this.ppf && !this.pfo && !this.iqe) this.ip = false;
  }
}
