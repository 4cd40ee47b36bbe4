/**
 * The register state the oracle needs, rebuilt from the observed register accesses
 * [ORACLE-CTL-1..4]: the latched root pointer (GCMD.SRTP), TE, the invalidation queue (descriptors
 * read from the shadow memory when IQT is written), register-based invalidations, and when each
 * invalidation is known to have completed.
 */

import type { TranslationMode } from "../contract/types.ts";
import { type Descriptor, decodeDescriptor } from "../spec/descriptor.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import { Reg } from "../spec/register-offsets.ts";
import type { RootPointer } from "../spec/root-entry.ts";
import { bit, field, mask } from "../spec/word.ts";
import type { OracleConfig } from "./config.ts";
import { descriptorCovers } from "./coverage.ts";
import type { HistoryMemory } from "./history-memory.ts";

/** An invalidation and the steps at which it was submitted and known complete. */
export interface Completion {
  scope: InvalidationScope;
  mode: TranslationMode;
  submit: number;
  complete: number;
  via: string;
}

interface Pending {
  scope: InvalidationScope;
  mode: TranslationMode;
  submit: number;
  via: string;
}

interface Wait {
  submit: number;
  /** Invalidations submitted before this wait that it completes. */
  before: Pending[];
  statusAddr?: number;
  statusData?: number;
  intr: boolean;
}

export class Control {
  /** Root pointers latched by SRTP; undefined before the first one (nothing can be walked). */
  readonly rootHistory: Array<{ t: number; rp: RootPointer | undefined }> = [];
  readonly teHistory: Array<{ t: number; te: boolean }> = [];
  /** Register values last written, by 4-byte offset. */
  private readonly regs = new Map<number, number>();
  private qie = false;
  private qHead = 0;
  private qTail = 0;
  private pending: Pending[] = [];
  private waits: Wait[] = [];
  private ccmd: Pending | undefined;
  private iotlb: Pending | undefined;
  private readonly statusAddrs: number[] = [];
  /**
   * [ORACLE-CTL-3] The wait with IF whose completion a read of ICS.IWC = 1 proves: the earliest one
   * not known complete when IWC was last known clear ("next": the next one submitted). Undefined
   * while IWC may still be set from a wait already credited.
   */
  private iwcProves: Wait | "next" | undefined = "next";

  constructor(
    private readonly cfg: OracleConfig,
    private readonly mem: HistoryMemory,
    start: number,
  ) {
    this.rootHistory.push({ t: start, rp: undefined });
    this.teHistory.push({ t: start, te: false });
  }

  rootAt(t: number): RootPointer | undefined {
    return lastAt(this.rootHistory, t).rp;
  }

  teAt(t: number): boolean {
    return lastAt(this.teHistory, t).te;
  }

  mode(t: number): TranslationMode {
    return this.rootAt(t)?.ttm === 1 ? "scalable" : "legacy";
  }

  /** True when the byte at addr belongs to the status dword of a submitted wait descriptor. */
  isStatusByte(addr: number): boolean {
    return this.statusAddrs.some((a) => addr >= a && addr < a + 4);
  }

  /**
   * [ORACLE-CTL-5] The queue met an invalid descriptor (or tail) since software last cleared
   * FSTS.IQE: only then may the model show IQE = 1.
   */
  get iqePermitted(): boolean {
    return this.iqeCause;
  }
  private iqeCause = false;

  /** Invalidations submitted whose completion has not been observed. */
  get outstanding(): number {
    return this.pending.length + (this.ccmd ? 1 : 0) + (this.iotlb ? 1 : 0);
  }

  private reg64(off: number): bigint {
    return (BigInt(this.regs.get(off + 4) ?? 0) << 32n) | BigInt(this.regs.get(off) ?? 0);
  }

  /** [ORACLE-CTL-1] A register write; returns true when it changed the root pointer or TE. */
  writeReg(t: number, off: number, value: bigint, width: 4 | 8): boolean {
    this.regs.set(off, Number(value & 0xffffffffn));
    if (width === 8) this.regs.set(off + 4, Number((value >> 32n) & 0xffffffffn));
    const touches = (reg: number) => off <= reg + 4 && reg <= off + width - 4;
    let changed = false;
    if (touches(Reg.GCMD) && off === Reg.GCMD) {
      const v = Number(value & 0xffffffffn);
      const te = ((v >>> 31) & 1) === 1;
      if (te !== this.teAt(t)) {
        this.teHistory.push({ t, te });
        changed = true;
      }
      if (((v >>> 30) & 1) === 1) {
        const rt = this.reg64(Reg.RTADDR);
        this.rootHistory.push({ t, rp: { address: Number(rt & mask(51, 12)), ttm: field(rt, 11, 10) } });
        changed = true;
      }
      const qie = ((v >>> 26) & 1) === 1;
      if (qie !== this.qie) {
        this.qie = qie;
        this.qHead = 0; // [VTD-QI-3] enabling/disabling the queue restarts it at 0
        this.qTail = 0;
        if (qie) this.fetch(t);
      }
    }
    if (touches(Reg.IQT)) {
      this.qTail = Number(this.reg64(Reg.IQT) & mask(18, 4));
      this.fetch(t);
    }
    if (touches(Reg.FSTS) && off === Reg.FSTS && bit(value, 4)) {
      this.iqeCause = false; // IQE cleared: resume (and fail again on a descriptor still invalid)
      this.fetch(t);
    }
    if (off === Reg.ICS && bit(value, 0)) this.iwcClear(); // IWC is write-1-to-clear
    if (touches(Reg.CCMD)) this.ccmdWrite(t);
    if (touches(this.cfg.iotlbRegOffset + 8)) this.iotlbWrite(t);
    return changed;
  }

  /**
   * [ORACLE-CTL-2] Descriptors between the last fetched position and IQT, read from the shadow
   * memory now. An invalid descriptor stops the fetch there (the model sets IQE).
   */
  private fetch(t: number): void {
    if (!this.qie) return;
    const iqa = this.reg64(Reg.IQA);
    const base = Number(iqa & mask(51, 12));
    const wide = bit(iqa, 11);
    const size = 4096 * 2 ** field(iqa, 2, 0);
    const dsz = wide ? 32 : 16;
    const mode = this.mode(t);
    const ttm = this.rootAt(t)?.ttm ?? 0;
    const q = this.cfg.queue;
    let guard = size / 16 + 1;
    while (this.qHead !== this.qTail && guard-- > 0) {
      // [VTD-QI-5] [VTD-QI-10] queue-level errors: width against mode and support, tail and head.
      const queueError =
        (wide && !q.smts && !q.adms) ||
        ttm === 2 ||
        (ttm === 1 && !q.smts) ||
        (ttm === 3 && !q.adms) ||
        (!wide && (ttm === 1 || ttm === 3)) ||
        this.qHead >= size ||
        this.qTail >= size ||
        this.qHead % dsz !== 0 ||
        this.qTail % dsz !== 0 ||
        base + this.qHead + dsz > this.mem.size;
      if (queueError) {
        this.iqeCause = true;
        return;
      }
      const words: bigint[] = [];
      for (let i = 0; i < dsz / 8; i++) words.push(this.mem.wordAt(base + this.qHead + i * 8));
      const d = decodeDescriptor(words, {
        width: wide ? 256 : 128,
        pageRequestDrain: q.pds,
        deviceTlbThrottle: q.dit,
      });
      if (!d.ok || !this.offered(d.descriptor, ttm)) {
        this.iqeCause = true;
        return;
      }
      const desc = d.descriptor;
      if (desc.kind === "wait") {
        const w: Wait = { submit: t, before: [...this.pending], intr: desc.intr };
        if (w.intr && this.iwcProves === "next") this.iwcProves = w;
        if (desc.sw) {
          const addr = Number(desc.statusAddr & mask(51, 2));
          this.statusAddrs.push(addr);
          // A status value already in memory proves nothing when it is observed.
          const old = Number(this.mem.read(addr, 4).reduce((acc, b, i) => acc + b * 2 ** (8 * i), 0));
          if (old !== desc.statusData) {
            w.statusAddr = addr;
            w.statusData = desc.statusData;
          }
        }
        this.waits.push(w);
      } else {
        const scope = descriptorCovers(desc, this.cfg);
        if (scope !== undefined)
          this.pending.push({ scope, mode, submit: t, via: `queued ${desc.kind} at step ${t}` });
      }
      this.qHead = (this.qHead + dsz) % size;
    }
  }

  /** [VTD-QI-5] [VTD-QI-9] Valid for this unit and mode: legacy types 1-5, DT, PSI and MAMV. */
  private offered(d: Descriptor, ttm: number): boolean {
    const q = this.cfg.queue;
    if (ttm === 0 && d.kind.startsWith("pasid-")) return false;
    if (!q.dt && d.kind.endsWith("device-tlb")) return false;
    if (d.kind === "iotlb" && d.g === 3 && (!q.psi || d.am > q.mamv)) return false;
    return true;
  }

  private ccmdWrite(t: number): void {
    const v = this.reg64(Reg.CCMD);
    if (!bit(v, 63)) return;
    const g = field(v, 62, 61);
    const did = field(v, 15, 0);
    const scope: InvalidationScope | undefined =
      g === 1
        ? { kind: "context", granularity: "global" }
        : g === 2
          ? { kind: "context", granularity: "domain", did }
          : g === 3
            ? { kind: "context", granularity: "device", did, sid: field(v, 31, 16), fm: field(v, 33, 32) }
            : undefined;
    if (scope !== undefined) this.ccmd = { scope, mode: this.mode(t), submit: t, via: `CCMD at step ${t}` };
  }

  private iotlbWrite(t: number): void {
    const off = this.cfg.iotlbRegOffset;
    const v = this.reg64(off + 8);
    if (!bit(v, 63)) return;
    const g = field(v, 61, 60);
    const did = field(v, 47, 32);
    const iva = this.reg64(off);
    const scope: InvalidationScope | undefined =
      g === 1
        ? { kind: "iotlb", granularity: "global" }
        : g === 2
          ? { kind: "iotlb", granularity: "domain", did }
          : g === 3
            ? {
                kind: "iotlb",
                granularity: "page",
                did,
                addr: iva & mask(63, 12),
                am: field(iva, 5, 0),
                ih: bit(iva, 6),
              }
            : undefined;
    if (scope !== undefined)
      this.iotlb = { scope, mode: this.mode(t), submit: t, via: `IOTLB_REG at step ${t}` };
  }

  /** [ORACLE-CTL-3] A register read: CCMD.ICC / IOTLB.IVT reading 0, or ICS.IWC reading 1, completes. */
  readReg(t: number, off: number, width: 4 | 8, value: bigint): Completion[] {
    const out: Completion[] = [];
    const hiBit = (reg: number): boolean | undefined => {
      if (off === reg && width === 8) return bit(value, 63);
      if (off === reg + 4) return bit(value, 31);
      return undefined;
    };
    const icc = hiBit(Reg.CCMD);
    if (icc === false && this.ccmd) {
      out.push(done(this.ccmd, t));
      this.ccmd = undefined;
    }
    const ivt = hiBit(this.cfg.iotlbRegOffset + 8);
    if (ivt === false && this.iotlb) {
      out.push(done(this.iotlb, t));
      this.iotlb = undefined;
    }
    if (off === Reg.ICS && bit(value, 0)) {
      // IWC may have been set by a wait credited before: only the one armed at the last clear is proven.
      const w = this.iwcProves;
      if (w !== undefined && w !== "next" && this.waits.includes(w)) out.push(...this.completeWait(w, t));
      this.iwcProves = undefined;
    } else if (off === Reg.ICS) this.iwcClear();
    return out;
  }

  /** IWC is known clear now: the next IWC = 1 proves the earliest wait with IF not known complete. */
  private iwcClear(): void {
    this.iwcProves = this.waits.find((w) => w.intr) ?? "next";
  }

  /** [ORACLE-CTL-4] Guest memory read: a wait descriptor's status data observed completes what precedes it. */
  readGuest(t: number, gpa: number, bytes: Uint8Array): Completion[] {
    const out: Completion[] = [];
    for (const w of [...this.waits]) {
      if (w.statusAddr === undefined || w.statusData === undefined) continue;
      const o = w.statusAddr - gpa;
      if (o < 0 || o + 4 > bytes.length) continue;
      const v =
        ((bytes[o] as number) |
          ((bytes[o + 1] as number) << 8) |
          ((bytes[o + 2] as number) << 16) |
          ((bytes[o + 3] as number) << 24)) >>>
        0;
      if (v === w.statusData >>> 0) out.push(...this.completeWait(w, t));
    }
    return out;
  }

  private completeWait(w: Wait, t: number): Completion[] {
    const idx = this.waits.indexOf(w);
    const earlier = this.waits.splice(0, idx + 1);
    const set = new Set<Pending>();
    for (const e of earlier) for (const p of e.before) set.add(p);
    const out: Completion[] = [];
    this.pending = this.pending.filter((p) => {
      if (set.has(p)) {
        out.push(done(p, t));
        return false;
      }
      return true;
    });
    return out;
  }
}

function done(p: Pending, t: number): Completion {
  return { scope: p.scope, mode: p.mode, submit: p.submit, complete: t, via: p.via };
}

function lastAt<T extends { t: number }>(list: T[], t: number): T {
  let best = list[0] as T;
  for (const e of list) if (e.t <= t) best = e;
  return best;
}
