/**
 * The invalidation queue (VT-d 5.10 §6.5.2, registers §11.4.9): IQA/IQH/IQT, descriptor
 * fetch and validation, the invalidation queue error (FSTS.IQE), wait descriptors and the
 * invalidation completion event (ICS, IECTL, IEDATA, IEADDR, IEUADDR).
 * The model processes descriptors synchronously: a write that makes the queue fetchable
 * runs it until it is empty or an error stops it. See spec/queue.md.
 */

import type { TranslationMode } from "../contract/types.ts";
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { readWords } from "../memory/physical-memory.ts";
import type { Capabilities } from "../spec/capabilities.ts";
import { type Descriptor, DescriptorType, decodeDescriptor, descriptorType } from "../spec/descriptor.ts";
import { EventCtl, Ics, Iqa, Iqei, QueuePointer } from "../spec/register-offsets.ts";
import { bit, field, mask } from "../spec/word.ts";
import { descriptorScope } from "./descriptor-scope.ts";
import type { InvalidationSink } from "./interfaces.ts";

/** Where the queue reports an invalidation queue error (FSTS lives in fault recording). */
export interface QueueErrorSink {
  readonly queueErrorPending: boolean;
  raiseQueueError(): void;
}

export interface QueueContext {
  caps: Capabilities;
  mem: PhysicalMemory;
  sink: InvalidationSink;
  errors: QueueErrorSink;
  hawBits: number;
  /** RTADDR.TTM as latched by the last SRTP (0 before any). */
  latchedTtm(): number;
}

/** What the queue did with one descriptor, for diagnostics. */
export interface QueueEvent {
  /** Byte offset of the descriptor in the queue. */
  offset: number;
  type: number;
  outcome: "done" | "error";
  iqei?: number;
}

/** [VTD-REG-16] The mode invalidations are tagged with: scalable only when the latched TTM is 01b. */
export function modeOfTtm(ttm: number): TranslationMode {
  return ttm === 1 ? "scalable" : "legacy";
}

export class InvalidationQueue {
  private head = 0;
  private tail = 0;
  private iqa = 0n;
  private on = false;
  private iqei = 0;
  private iwc = false;
  private im = true;
  private ip = false;
  private iedata = 0;
  private ieaddr = 0;
  private ieuaddr = 0;
  /** Invalidation completion messages an unmasked event would have sent. */
  eventsSent = 0;
  /** Most recent descriptors processed (bounded), newest last. */
  readonly history: QueueEvent[] = [];

  constructor(private readonly ctx: QueueContext) {}

  get enabled(): boolean {
    return this.on;
  }

  /** [VTD-QI-3] GCMD.QIE = 1: QIES is set and fetching starts if the queue is not empty. */
  enable(): void {
    this.on = true;
    this.process();
  }

  /** [VTD-QI-3] GCMD.QIE = 0: QIES clears and IQH is reset to 0. */
  disable(): void {
    this.on = false;
    this.head = 0;
  }

  // ---- registers

  /** [VTD-QI-2] IQH: bits 18:4, read-only. */
  readIqh(): bigint {
    return BigInt(this.head);
  }

  readIqt(): bigint {
    return BigInt(this.tail);
  }

  /** [VTD-QI-2] IQT: bits 18:4 writable; a write may start processing. */
  writeIqt(value: bigint, writeMask: bigint): void {
    const merged = (BigInt(this.tail) & ~writeMask) | (value & writeMask);
    this.tail = Number(merged & mask(QueuePointer.HI, QueuePointer.LO));
    this.process();
  }

  readIqa(): bigint {
    return this.iqa;
  }

  /** [VTD-QI-1] IQA: base 63:12 (bits at and above HAW not implemented), DW 11, QS 2:0. */
  writeIqa(value: bigint, writeMask: bigint): void {
    const writable = mask(this.ctx.hawBits - 1, Iqa.ADDR_LO) | mask(Iqa.DW, Iqa.DW) | mask(2, 0);
    this.iqa = ((this.iqa & ~writeMask) | (value & writeMask)) & writable;
  }

  /** [VTD-QI-11] IQERCD: IQEI in bits 3:0 (ICESID/ITESID are 0: no device-TLB). */
  readIqercd(): bigint {
    return BigInt(this.iqei);
  }

  /** [VTD-QI-13] ICS: IWC bit 0, write-1-to-clear. */
  readIcs(): number {
    return this.iwc ? 1 << Ics.IWC : 0;
  }

  writeIcs(value: number): void {
    if (value & (1 << Ics.IWC) && this.iwc) {
      this.iwc = false;
      this.ip = false;
    }
  }

  /** [VTD-QI-13] IECTL: IM 31 (reset 1), IP 30 read-only. */
  readIectl(): number {
    return ((this.im ? 1 << EventCtl.IM : 0) | (this.ip ? 1 << EventCtl.IP : 0)) >>> 0;
  }

  writeIectl(value: number): void {
    const im = (value & (1 << EventCtl.IM)) !== 0;
    if (this.im && !im && this.ip) {
      this.ip = false;
      this.eventsSent++;
    }
    this.im = im;
  }

  readIedata(): number {
    return this.iedata;
  }
  writeIedata(v: number): void {
    this.iedata = v & 0xffff;
  }
  readIeaddr(): number {
    return this.ieaddr;
  }
  writeIeaddr(v: number): void {
    this.ieaddr = (v & ~3) >>> 0;
  }
  readIeuaddr(): number {
    return this.ieuaddr;
  }
  writeIeuaddr(v: number): void {
    this.ieuaddr = v >>> 0;
  }

  // ---- processing

  /** Queue size in bytes: 2^QS pages. */
  private get sizeBytes(): number {
    return 4096 * 2 ** field(this.iqa, Iqa.QS_HI, Iqa.QS_LO);
  }

  private get wide(): boolean {
    return bit(this.iqa, Iqa.DW);
  }

  /**
   * [VTD-QI-3] [VTD-QI-4] Fetch and run descriptors from IQH while QIES = 1, the queue is not
   * empty and no IQE is pending. Each step advances IQH, so this ends within one lap.
   */
  process(): void {
    if (!this.on) return;
    let budget = this.sizeBytes / 16 + 1;
    while (this.head !== this.tail && !this.ctx.errors.queueErrorPending && budget-- > 0) {
      const iqei = this.step();
      if (iqei !== undefined) {
        this.iqei = iqei;
        this.ctx.errors.raiseQueueError();
        return;
      }
    }
  }

  /** [VTD-QI-11] Queue-level conditions checked before each fetch. */
  private queueError(): number | undefined {
    const { caps } = this.ctx;
    const ttm = this.ctx.latchedTtm();
    if (this.wide && !caps.smts && !caps.adms) return Iqei.INVALID_WIDTH;
    if (ttm === 2 || (ttm === 1 && !caps.smts) || (ttm === 3 && !caps.adms)) return Iqei.INVALID_TTM;
    if (!this.wide && (ttm === 1 || ttm === 3)) return Iqei.INVALID_WIDTH;
    if (this.tail >= this.sizeBytes) return Iqei.INVALID_TAIL;
    if (this.wide && (this.tail & 0x10) !== 0) return Iqei.TAIL_MISALIGNED;
    if (this.head >= this.sizeBytes) return Iqei.FETCH_ERROR;
    return undefined;
  }

  /** One descriptor at IQH: validate, execute, advance. Returns an IQEI code on error. */
  private step(): number | undefined {
    const offset = this.head;
    const qerr = this.queueError();
    if (qerr !== undefined) return this.fail(offset, -1, qerr);
    const bytes = this.wide ? 32 : 16;
    const base = this.iqa & mask(this.ctx.hawBits - 1, Iqa.ADDR_LO);
    const addr = Number(base) + offset;
    if (!this.ctx.mem.contains(addr, bytes)) return this.fail(offset, -1, Iqei.FETCH_ERROR);
    const words = readWords(this.ctx.mem, addr, bytes / 8);
    const type = descriptorType(words[0] as bigint);
    const { caps } = this.ctx;
    const decoded = decodeDescriptor(words, {
      width: this.wide ? 256 : 128,
      pageRequestDrain: caps.pds,
      deviceTlbThrottle: caps.dit,
    });
    if (!decoded.ok)
      return this.fail(
        offset,
        type,
        decoded.error === "invalid-type" ? Iqei.INVALID_TYPE : Iqei.RESERVED_FIELD,
      );
    const check = this.hardwareCheck(decoded.descriptor, type);
    if (check !== undefined) return this.fail(offset, type, check);
    this.execute(decoded.descriptor);
    this.head = (offset + bytes) % this.sizeBytes;
    this.note({ offset, type, outcome: "done" });
    return undefined;
  }

  /**
   * [VTD-QI-5] [VTD-QI-9] What depends on this hardware and mode: Table 26 (legacy mode
   * accepts types 1-5 only), no device-TLB (ECAP.DT = 0: types 3 and 8 are invalid types),
   * page-selective IOTLB needs CAP.PSI and AM <= CAP.MAMV.
   */
  private hardwareCheck(d: Descriptor, type: number): number | undefined {
    const { caps } = this.ctx;
    const legacy = this.ctx.latchedTtm() === 0;
    if (legacy && type > DescriptorType.WAIT) return Iqei.INVALID_TYPE;
    if (!caps.dt && (type === DescriptorType.DEVICE_TLB || type === DescriptorType.PASID_DEVICE_TLB))
      return Iqei.INVALID_TYPE;
    if (d.kind === "iotlb" && d.g === 3 && (!caps.psi || d.am > caps.mamv)) return Iqei.RESERVED_FIELD;
    return undefined;
  }

  private execute(d: Descriptor): void {
    if (d.kind === "wait") {
      this.completeWait(d);
      return;
    }
    const { caps } = this.ctx;
    const scope = descriptorScope(d, { domainIdBits: caps.domainIdBits, mgaw: caps.mgaw });
    if (scope !== undefined) this.ctx.sink.invalidate(scope, modeOfTtm(this.ctx.latchedTtm()));
  }

  /**
   * [VTD-QI-12] Wait descriptor completion: SW writes the 32-bit status data to the status
   * address (bits HAW-1:2; dropped when not in memory), IF sets ICS.IWC. [VTD-QI-7] FN needs
   * nothing: every earlier descriptor has already completed.
   */
  private completeWait(d: Extract<Descriptor, { kind: "wait" }>): void {
    if (d.sw) {
      const addr = Number(d.statusAddr & mask(this.ctx.hawBits - 1, 2));
      if (this.ctx.mem.contains(addr, 4)) this.ctx.mem.writeU32(addr, d.statusData >>> 0);
    }
    if (d.intr) this.setIwc();
  }

  /** [VTD-QI-13] §6.5.2.10: a new completion event only when IWC was clear. */
  private setIwc(): void {
    if (this.iwc) return;
    this.iwc = true;
    this.ip = true;
    if (!this.im) {
      this.ip = false;
      this.eventsSent++;
    }
  }

  /** [VTD-QI-10] IQH stays on the failing descriptor. */
  private fail(offset: number, type: number, iqei: number): number {
    this.note({ offset, type, outcome: "error", iqei });
    return iqei;
  }

  private note(e: QueueEvent): void {
    this.history.push(e);
    if (this.history.length > 256) this.history.shift();
  }
}
