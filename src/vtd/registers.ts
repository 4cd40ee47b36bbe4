/**
 * The DMAR register file of the reference vIOMMU (VT-d 5.10 §10.4, §11.4): capability
 * registers, the global command/status pair, the root-table pointer, register-based
 * invalidation, fault reporting and the invalidation queue. A guest driver reaches it
 * through 4- and 8-byte accesses. See spec/registers.md.
 */

import type { TranslationMode, VIommuConfig } from "../contract/types.ts";
import { capabilitiesFor, configProblems } from "../contract/viommu-capabilities.ts";
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { type Capabilities, type CapabilityRegisters, encodeCapabilities } from "../spec/capabilities.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import { Ccmd, Gcmd, Gsts, Iotlb, Iva, Reg, Rtaddr } from "../spec/register-offsets.ts";
import { bit, field, mask, U64_MASK } from "../spec/word.ts";
import { FaultRecording } from "./fault-recording.ts";
import type { InvalidationSink, RootPointer } from "./interfaces.ts";
import { InvalidationQueue, modeOfTtm } from "./queue.ts";

export interface RegisterListener {
  onRootPointer?(rp: RootPointer): void;
  onTranslationEnable?(enabled: boolean): void;
}

/** A 64-bit register; writeMask marks the bytes an access covered (a 4-byte access covers half). */
interface Reg64 {
  read(): bigint;
  write(value: bigint, writeMask: bigint): void;
}

interface Reg32 {
  read(): number;
  write(value: number): void;
}

const HALF = 0xffff_ffffn;

/** [VTD-REG-1] Read-only 64-bit register. */
function ro64(read: () => bigint): Reg64 {
  return { read, write: () => {} };
}

function ro32(read: () => number): Reg32 {
  return { read, write: () => {} };
}

export class DmarRegisters {
  readonly capabilities: Capabilities;
  readonly capabilityRegisters: CapabilityRegisters;
  readonly faults: FaultRecording;
  readonly queue: InvalidationQueue;
  private readonly regs64 = new Map<number, Reg64>();
  private readonly regs32 = new Map<number, Reg32>();
  private readonly hawBits: number;
  private tes = false;
  private rtps = false;
  private rtaddr = 0n;
  private latched: RootPointer | undefined;
  private ccmd = 0n;
  private iotlb = 0n;
  private iva = 0n;

  constructor(
    config: VIommuConfig,
    mem: PhysicalMemory,
    private readonly sink: InvalidationSink,
    private readonly listener: RegisterListener = {},
  ) {
    const problems = configProblems(config);
    if (problems.length > 0) throw new RangeError(`unsupported vIOMMU configuration: ${problems.join("; ")}`);
    this.hawBits = config.hawBits;
    this.capabilities = capabilitiesFor(config);
    this.capabilityRegisters = encodeCapabilities(this.capabilities);
    const caps = this.capabilities;
    const fsWidth = caps.fsts ? (caps.fs5lp ? 57 : 48) : 0;
    this.faults = new FaultRecording({
      records: caps.faultRecords,
      pasidSupported: caps.pasid,
      faultInfoBits: Math.max(caps.mgaw, fsWidth),
    });
    this.queue = new InvalidationQueue({
      caps,
      mem,
      sink,
      errors: this.faults,
      hawBits: config.hawBits,
      latchedTtm: () => this.latched?.ttm ?? 0,
    });
    this.map();
  }

  /** The root-table pointer latched by the last SRTP; undefined before the first. */
  get rootPointer(): RootPointer | undefined {
    return this.latched;
  }

  /** GSTS.TES. */
  get translationEnabled(): boolean {
    return this.tes;
  }

  /** [VTD-REG-16] The mode invalidations are tagged with (legacy before any SRTP). */
  get mode(): TranslationMode {
    return modeOfTtm(this.latched?.ttm ?? 0);
  }

  /**
   * [VTD-REG-1] [VTD-REG-2] A register read. width 4 or 8, naturally aligned; an 8-byte read
   * of two 32-bit registers returns both. Unimplemented offsets and misaligned accesses read 0.
   */
  read(off: number, width: 4 | 8): bigint {
    if (!this.aligned(off, width)) return 0n;
    if (width === 8) {
      const r = this.regs64.get(off);
      if (r !== undefined) return r.read() & U64_MASK;
      return BigInt(this.readDword(off)) | (BigInt(this.readDword(off + 4)) << 32n);
    }
    return BigInt(this.readDword(off));
  }

  /** [VTD-REG-1] [VTD-REG-2] A register write; misaligned writes and read-only fields are ignored. */
  write(off: number, value: bigint, width: 4 | 8): void {
    if (!this.aligned(off, width)) return;
    if (width === 8) {
      const v = value & U64_MASK;
      const r = this.regs64.get(off);
      if (r !== undefined) {
        r.write(v, U64_MASK);
        return;
      }
      this.writeDword(off, Number(v & HALF));
      this.writeDword(off + 4, Number(v >> 32n));
      return;
    }
    this.writeDword(off, Number(value & HALF));
  }

  private aligned(off: number, width: number): boolean {
    return Number.isSafeInteger(off) && off >= 0 && (width === 4 || width === 8) && off % width === 0;
  }

  private readDword(off: number): number {
    const base = off & ~7;
    const r = this.regs64.get(base);
    if (r !== undefined) return Number((r.read() >> BigInt((off - base) * 8)) & HALF);
    return (this.regs32.get(off)?.read() ?? 0) >>> 0;
  }

  private writeDword(off: number, value: number): void {
    const base = off & ~7;
    const r = this.regs64.get(base);
    if (r !== undefined) {
      const shift = BigInt((off - base) * 8);
      r.write(BigInt(value >>> 0) << shift, HALF << shift);
      return;
    }
    this.regs32.get(off)?.write(value >>> 0);
  }

  /** The register map (§11.4, Table 11-1). */
  private map(): void {
    const caps = this.capabilities;
    const capRegs = this.capabilityRegisters;
    const q = this.queue;
    const f = this.faults;
    this.regs32.set(
      Reg.VER,
      ro32(() => capRegs.ver),
    );
    this.regs64.set(
      Reg.CAP,
      ro64(() => capRegs.cap),
    );
    this.regs64.set(
      Reg.ECAP,
      ro64(() => capRegs.ecap),
    );
    this.regs32.set(Reg.GCMD, { read: () => 0, write: (v) => this.globalCommand(v) });
    this.regs32.set(
      Reg.GSTS,
      ro32(() => this.gsts()),
    );
    this.regs64.set(Reg.RTADDR, {
      read: () => this.rtaddr,
      write: (v, m) => {
        // [VTD-REG-10] RTA below HAW and TTM are implemented; bits 9:0 are RsvdZ.
        const writable = mask(this.hawBits - 1, Rtaddr.RTA_LO) | mask(Rtaddr.TTM_HI, Rtaddr.TTM_LO);
        this.rtaddr = ((this.rtaddr & ~m) | (v & m)) & writable;
      },
    });
    this.regs64.set(Reg.CCMD, { read: () => this.ccmdRead(), write: (v, m) => this.ccmdWrite(v, m) });
    this.regs32.set(Reg.FSTS, {
      read: () => f.readFsts(),
      write: (v) => {
        f.writeFsts(v);
        // [VTD-QI-10] Clearing IQE lets the queue fetch again, from IQH.
        q.process();
      },
    });
    this.regs32.set(Reg.FECTL, { read: () => f.readFectl(), write: (v) => f.writeFectl(v) });
    this.regs32.set(Reg.FEDATA, { read: () => f.readFedata(), write: (v) => f.writeFedata(v) });
    this.regs32.set(Reg.FEADDR, { read: () => f.readFeaddr(), write: (v) => f.writeFeaddr(v) });
    this.regs32.set(Reg.FEUADDR, { read: () => f.readFeuaddr(), write: (v) => f.writeFeuaddr(v) });
    this.regs64.set(
      Reg.IQH,
      ro64(() => q.readIqh()),
    );
    this.regs64.set(Reg.IQT, { read: () => q.readIqt(), write: (v, m) => q.writeIqt(v, m) });
    this.regs64.set(Reg.IQA, { read: () => q.readIqa(), write: (v, m) => q.writeIqa(v, m) });
    this.regs32.set(Reg.ICS, { read: () => q.readIcs(), write: (v) => q.writeIcs(v) });
    this.regs32.set(Reg.IECTL, { read: () => q.readIectl(), write: (v) => q.writeIectl(v) });
    this.regs32.set(Reg.IEDATA, { read: () => q.readIedata(), write: (v) => q.writeIedata(v) });
    this.regs32.set(Reg.IEADDR, { read: () => q.readIeaddr(), write: (v) => q.writeIeaddr(v) });
    this.regs32.set(Reg.IEUADDR, { read: () => q.readIeuaddr(), write: (v) => q.writeIeuaddr(v) });
    this.regs64.set(
      Reg.IQERCD,
      ro64(() => q.readIqercd()),
    );
    // [VTD-REG-14] IVA is write-only (reads 0); IOTLB_REG follows it.
    this.regs64.set(caps.iotlbRegOffset, {
      read: () => 0n,
      write: (v, m) => {
        const writable = mask(63, Iva.ADDR_LO) | mask(Iva.IH, Iva.IH) | mask(Iva.AM_HI, Iva.AM_LO);
        this.iva = ((this.iva & ~m) | (v & m)) & writable;
      },
    });
    this.regs64.set(caps.iotlbRegOffset + 8, {
      read: () => this.iotlb,
      write: (v, m) => this.iotlbWrite(v, m),
    });
    for (let i = 0; i < caps.faultRecords; i++) {
      const at = caps.faultRecordOffset + 16 * i;
      this.regs64.set(
        at,
        ro64(() => f.readRecord(i, false)),
      );
      this.regs64.set(at + 8, {
        read: () => f.readRecord(i, true),
        write: (v, m) => f.writeRecordHigh(i, v, m),
      });
    }
  }

  /** [VTD-REG-8] GSTS: TES 31, RTPS 30, QIES 26. */
  private gsts(): number {
    return (
      ((this.tes ? 1 << Gsts.TES : 0) |
        (this.rtps ? 1 << Gsts.RTPS : 0) |
        (this.queue.enabled ? 1 << Gsts.QIES : 0)) >>>
      0
    );
  }

  /**
   * [VTD-REG-8] A GCMD write: TE and QIE act when they differ from TES/QIES, SRTP when set;
   * in QEMU's order (TE, SRTP, QIE). WBF, IRE, SIRTP and CFI do nothing (RWBF = IR = 0).
   */
  private globalCommand(v: number): void {
    const te = ((v >>> Gcmd.TE) & 1) === 1;
    if (te !== this.tes) this.setTranslation(te);
    if ((v >>> Gcmd.SRTP) & 1) this.setRootPointer();
    // [VTD-REG-12] QIE enables or disables the invalidation queue.
    const qie = ((v >>> Gcmd.QIE) & 1) === 1;
    if (qie !== this.queue.enabled) {
      if (qie) this.queue.enable();
      else this.queue.disable();
    }
  }

  /** [VTD-REG-11] TE: TES follows; disabling with SMTS flushes every cache and resets the fault index. */
  private setTranslation(enable: boolean): void {
    this.tes = enable;
    if (!enable) {
      if (this.capabilities.smts) this.flushAll();
      this.faults.resetIndex();
    }
    this.listener.onTranslationEnable?.(enable);
  }

  /** [VTD-REG-9] SRTP latches RTADDR (address and TTM) and sets RTPS; with ESRTPS it flushes every cache. */
  private setRootPointer(): void {
    this.rtps = false;
    this.latched = {
      address: Number(this.rtaddr & mask(63, Rtaddr.RTA_LO)),
      ttm: field(this.rtaddr, Rtaddr.TTM_HI, Rtaddr.TTM_LO),
    };
    if (this.capabilities.esrtps) this.flushAll();
    this.rtps = true;
    this.listener.onRootPointer?.(this.latched);
  }

  private flushAll(): void {
    const mode = this.mode;
    const scopes: InvalidationScope[] = [
      { kind: "context", granularity: "global" },
      { kind: "pasid-cache", granularity: "global" },
      { kind: "iotlb", granularity: "global" },
    ];
    for (const s of scopes) this.sink.invalidate(s, mode);
  }

  /** [VTD-REG-13] Register-based invalidation is refused (granularity 00b) outside legacy mode or with QIES = 1. */
  private registerInvalidationRefused(): boolean {
    return (this.latched?.ttm ?? 0) !== 0 || this.queue.enabled;
  }

  /** [VTD-REG-13] [VTD-REG-15] CCMD reads back ICC, CIRG, CAIG and DID; FM and SID are write-only. */
  private ccmdRead(): bigint {
    return this.ccmd & (mask(63, 59) | mask(Ccmd.DID_HI, Ccmd.DID_LO));
  }

  /** [VTD-REG-13] Writing the top byte with ICC = 1 runs the context-cache invalidation at once. */
  private ccmdWrite(v: bigint, m: bigint): void {
    const writable =
      mask(Ccmd.ICC, Ccmd.CIRG_LO) | mask(Ccmd.FM_HI, Ccmd.FM_LO) | mask(Ccmd.SID_HI, Ccmd.DID_LO);
    const caig = this.ccmd & mask(Ccmd.CAIG_HI, Ccmd.CAIG_LO);
    this.ccmd = (((this.ccmd & ~m) | (v & m)) & writable) | caig;
    if ((m & (1n << 63n)) === 0n || !bit(this.ccmd, Ccmd.ICC)) return;
    const cirg = field(this.ccmd, Ccmd.CIRG_HI, Ccmd.CIRG_LO);
    let actual = 0;
    if (cirg !== 0 && !this.registerInvalidationRefused()) {
      const did = field(this.ccmd, Ccmd.DID_HI, Ccmd.DID_LO) & ((1 << this.capabilities.domainIdBits) - 1);
      const scope: InvalidationScope =
        cirg === 1
          ? { kind: "context", granularity: "global" }
          : cirg === 2
            ? { kind: "context", granularity: "domain", did }
            : {
                kind: "context",
                granularity: "device",
                did,
                sid: field(this.ccmd, Ccmd.SID_HI, Ccmd.SID_LO),
                fm: field(this.ccmd, Ccmd.FM_HI, Ccmd.FM_LO),
              };
      this.sink.invalidate(scope, "legacy");
      actual = cirg;
    }
    this.ccmd =
      (this.ccmd & ~(mask(Ccmd.ICC, Ccmd.ICC) | mask(Ccmd.CAIG_HI, Ccmd.CAIG_LO))) |
      (BigInt(actual) << BigInt(Ccmd.CAIG_LO));
  }

  /** [VTD-REG-14] Writing the top byte with IVT = 1 runs the IOTLB invalidation (address from IVA). */
  private iotlbWrite(v: bigint, m: bigint): void {
    const writable =
      mask(Iotlb.IVT, Iotlb.IVT) | mask(Iotlb.IIRG_HI, Iotlb.IIRG_LO) | mask(Iotlb.DR, Iotlb.DID_LO);
    const iaig = this.iotlb & mask(Iotlb.IAIG_HI, Iotlb.IAIG_LO);
    this.iotlb = (((this.iotlb & ~m) | (v & m)) & writable) | iaig;
    if ((m & (1n << 63n)) === 0n || !bit(this.iotlb, Iotlb.IVT)) return;
    const caps = this.capabilities;
    const iirg = field(this.iotlb, Iotlb.IIRG_HI, Iotlb.IIRG_LO);
    const did = field(this.iotlb, Iotlb.DID_HI, Iotlb.DID_LO) & ((1 << caps.domainIdBits) - 1);
    const am = field(this.iva, Iva.AM_HI, Iva.AM_LO);
    let actual = 0;
    if (iirg !== 0 && !this.registerInvalidationRefused() && !(iirg === 3 && (!caps.psi || am > caps.mamv))) {
      let scope: InvalidationScope;
      if (iirg === 1) scope = { kind: "iotlb", granularity: "global" };
      else if (iirg === 2) scope = { kind: "iotlb", granularity: "domain", did };
      else {
        const addr = this.iva & mask(caps.mgaw - 1, Iva.ADDR_LO) & ~((1n << BigInt(12 + am)) - 1n);
        scope = { kind: "iotlb", granularity: "page", did, addr, am, ih: bit(this.iva, Iva.IH) };
      }
      this.sink.invalidate(scope, "legacy");
      actual = iirg;
    }
    this.iotlb =
      (this.iotlb & ~(mask(Iotlb.IVT, Iotlb.IVT) | mask(Iotlb.IAIG_HI, Iotlb.IAIG_LO))) |
      (BigInt(actual) << BigInt(Iotlb.IAIG_LO));
  }
}
