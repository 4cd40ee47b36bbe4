/**
 * The vIOMMU translation path (VT-d 5.10 §3.4, §3.6–§3.9, §7.1.3): root → context (legacy) or
 * root → scalable context → PASID directory → PASID entry (scalable), then the shared walkers of
 * src/paging, with the fault reason codes of the mode. Caches (caches.ts) hold what was read.
 * Translation enable (GCMD.TE) is the caller's business.
 */

import {
  decodeLegacyContext,
  decodeScalableContext,
  legacyContextReserved,
  scalableContextReserved,
} from "../bits/context-entry.ts";
import type { EntryCaps } from "../bits/entry-caps.ts";
import {
  anyBits,
  decodePasidDir,
  decodePasidEntry,
  pasidDirReserved,
  pasidEntryReserved,
} from "../bits/pasid-entry.ts";
import { decodeLegacyRoot, legacyRootReserved, scalableRootReserved } from "../bits/root-entry.ts";
import { type PhysicalMemory, readWords } from "../memory/physical-memory.ts";
import {
  hi32,
  lo32,
  type PagingFault,
  type PagingResult,
  permits,
  type SecondStageParams,
  walkFirstStage,
  walkNested,
  walkSecondStage,
} from "../paging/index.ts";
import type { VIommuConfig } from "../platform/types.ts";
import type { CachedTranslation, IotlbKind, VtdCaches } from "./caches.ts";
import { capabilitiesFor } from "./capabilities.ts";
import { LegacyFault as L, ScalableFault as S } from "./fault-reasons.ts";
import type { RootPointer, TranslationRequest, TranslationResult } from "./interfaces.ts";

/** [VTD-DMA-3] The interrupt address range FEEx_xxxxh. */
export function inInterruptRange(addr: bigint | number): boolean {
  const a = BigInt(addr);
  return a >= 0xfee0_0000n && a <= 0xfeef_ffffn;
}

/** Reason codes that FPD can suppress (Table 30 "Qualified") [VTD-CTX-7]. */
const NOT_QUALIFIED = new Set<number>([
  L.LRT_1_ROOT_ACCESS,
  L.LRT_2_ROOT_NOT_PRESENT,
  L.LRT_3_ROOT_RESERVED,
  L.LCT_1_CONTEXT_ACCESS,
  S.RTA_1_INVALID_RTADDR,
  S.RTA_2_LEGACY_TTM_WITH_PASID,
  S.RTA_3,
  S.RTA_4_ABORT_DMA_MODE,
  S.RTA_5,
  S.SRT_1_ROOT_ACCESS,
  S.SRT_2_ROOT_NOT_PRESENT,
  S.SRT_3_ROOT_RESERVED,
  S.SCT_1_CONTEXT_ACCESS,
  S.SPD_1_PASID_DIR_ACCESS,
  S.SPT_1_PASID_ENTRY_ACCESS,
]);

export function isQualified(reason: number): boolean {
  return !NOT_QUALIFIED.has(reason);
}

/** Map a walker fault to a legacy-mode reason [VTD-SS-2] [VTD-SS-5]. */
function legacyReason(f: PagingFault, write: boolean): number {
  switch (f.kind) {
    case "root-access":
      return L.LCT_4_CONTEXT_INVALID;
    case "entry-access":
      return L.LSS_1_SS_ENTRY_ACCESS;
    case "reserved":
      return L.LSS_2_SS_RESERVED;
    case "input-beyond-width":
      return L.LGN_1_ADDRESS_BEYOND_WIDTH;
    case "no-read":
      return L.LGN_3_NO_READ;
    default:
      // not-present and no-write: the request lacks its permission.
      return write ? L.LGN_2_NO_WRITE : L.LGN_3_NO_READ;
  }
}

/** Map a walker fault to a scalable-mode reason [VTD-PASID-9]. */
function scalableReason(f: PagingFault): number {
  if (f.stage === "second") {
    switch (f.kind) {
      case "root-access":
        return S.SSS_4_SSPTPTR_ACCESS;
      case "entry-access":
        return S.SSS_1_SS_ENTRY_ACCESS;
      case "reserved":
        return S.SSS_3_SS_RESERVED;
      case "input-beyond-width":
        return S.SGN_5_SS_INPUT_BEYOND_WIDTH;
      case "no-read":
        return S.SGN_7_NO_READ;
      case "no-write":
        return S.SGN_6_NO_WRITE;
      case "ad-non-snooped":
        return S.SSS_5;
      default:
        return S.SSS_2_SS_NONLEAF_NO_PERMISSION;
    }
  }
  switch (f.kind) {
    case "root-access":
      return S.SFS_4_FSPTPTR_ACCESS;
    case "entry-access":
      return S.SFS_1_FS_ENTRY_ACCESS;
    case "reserved":
      return S.SFS_3_FS_RESERVED;
    case "non-canonical":
      return S.SGN_1_NON_CANONICAL;
    case "user-supervisor":
      return S.SGN_2_USER_TO_SUPERVISOR;
    case "no-write":
      return S.SGN_6_NO_WRITE;
    case "no-read":
      return S.SGN_7_NO_READ;
    case "ad-non-snooped":
      return S.SFS_9_AD_NON_SNOOPED;
    case "nested-beyond-width":
      return S.SFS_5;
    case "nested-no-read":
      return f.root ? S.SFS_6 : S.SFS_7;
    case "nested-ad-blocked":
      return S.SFS_8;
    default:
      return S.SFS_2_FS_NOT_PRESENT;
  }
}

/** Levels of an AW encoding when CAP.SAGAW supports it, else 0. */
function agawLevels(aw: number, sagaw: number): 0 | 3 | 4 | 5 {
  if (aw < 1 || aw > 3 || ((sagaw >> aw) & 1) === 0) return 0;
  return (aw + 2) as 3 | 4 | 5;
}

interface Ctx {
  req: TranslationRequest;
  fpd: boolean;
}

export class Translator {
  private readonly caps: EntryCaps & ReturnType<typeof capabilitiesFor>;

  constructor(
    readonly config: VIommuConfig,
    private readonly mem: PhysicalMemory,
    private readonly caches: VtdCaches,
  ) {
    this.caps = { ...capabilitiesFor(config), haw: config.hawBits };
  }

  translate(req: TranslationRequest, root: RootPointer): TranslationResult {
    const c: Ctx = { req, fpd: false };
    // [VTD-ROOT-5] RTADDR.TTM: 00 legacy, 01 scalable, 10 reserved, 11 abort-DMA.
    if (root.ttm === 3)
      return this.fault(c, this.caps.adms ? S.RTA_4_ABORT_DMA_MODE : S.RTA_1_INVALID_RTADDR);
    if (root.ttm === 2 || (root.ttm === 1 && !this.caps.smts)) return this.fault(c, S.RTA_1_INVALID_RTADDR);
    const legacy = root.ttm === 0;
    if (legacy && req.pasid !== undefined) return this.fault(c, S.RTA_2_LEGACY_TTM_WITH_PASID);
    // [VTD-DMA-3] requests without PASID to the interrupt range are not DMA.
    if (req.pasid === undefined && inInterruptRange(req.iova)) {
      return this.fault(c, legacy ? L.LGN_4_INTERRUPT_RANGE : S.SGN_8_INTERRUPT_RANGE);
    }
    return legacy ? this.legacy(c, root.address) : this.scalable(c, root.address);
  }

  private fault(c: Ctx, reason: number): TranslationResult {
    const { req } = c;
    const fault = {
      reason,
      sid: req.sid,
      write: req.write,
      priv: req.priv,
      addr: BigInt.asUintN(64, req.iova) & ~0xfffn,
      ...(req.pasid !== undefined ? { pasid: req.pasid } : {}),
    };
    return { ok: false, fault, record: !(c.fpd && isQualified(reason)) };
  }

  /** Read `count` words at addr, or undefined when not wholly inside memory [VTD-MEM-2]. */
  private words(addr: number, count: number): bigint[] | undefined {
    return this.mem.contains(addr, count * 8) ? readWords(this.mem, addr, count) : undefined;
  }

  // ---------------------------------------------------------------- legacy mode

  private legacy(c: Ctx, rta: number): TranslationResult {
    const { req } = c;
    const caps = this.caps;
    let cached = this.caches.lookupContext(req.sid);
    if (cached === undefined) {
      const re = this.words(rta + (req.sid >> 8) * 16, 2);
      if (re === undefined) return this.fault(c, L.LRT_1_ROOT_ACCESS);
      const root = decodeLegacyRoot(re);
      if (!root.present) return this.fault(c, L.LRT_2_ROOT_NOT_PRESENT);
      if (anyBits(legacyRootReserved(re, caps.haw))) return this.fault(c, L.LRT_3_ROOT_RESERVED);
      const ce = this.words(root.ctp + (req.sid & 0xff) * 16, 2);
      if (ce === undefined) return this.fault(c, L.LCT_1_CONTEXT_ACCESS);
      const valid = this.legacyContextFault(ce) === 0;
      cached = { sid: req.sid, did: valid ? decodeLegacyContext(ce).did : 0, words: ce };
      // [VTD-CACHE-1] only valid entries, unless caching mode allows the rest.
      if (valid || caps.cm) this.caches.fillContext(cached);
    }
    const ce = decodeLegacyContext(cached.words);
    c.fpd = ce.fpd;
    const bad = this.legacyContextFault(cached.words);
    if (bad !== 0) return this.fault(c, bad);
    if (ce.tt === 2) {
      // [VTD-CTX-6] pass-through: HAW check and the interrupt range on the (unchanged) output.
      if (BigInt.asUintN(64, req.iova) >> BigInt(caps.haw) !== 0n)
        return this.fault(c, L.LGN_1_ADDRESS_BEYOND_WIDTH);
      if (inInterruptRange(req.iova)) return this.fault(c, L.LGN_4_INTERRUPT_RANGE);
      return { ok: true, hpa: Number(req.iova) };
    }
    const levels = agawLevels(ce.aw, caps.sagaw) as 3 | 4 | 5;
    const ss = this.ssParams(ce.ssptptr, levels, Math.min(caps.mgaw, 30 + 9 * (levels - 2)), false, false);
    return this.viaIotlb(c, ce.did, -1, "second-stage", false, (write) =>
      walkSecondStage(this.mem, ss, hi32(req.iova), lo32(req.iova), write),
    );
  }

  /** The fault a present-or-not legacy context entry gives, or 0 [VTD-CTX-5]. */
  private legacyContextFault(words: readonly bigint[]): number {
    const ce = decodeLegacyContext(words);
    if (!ce.present) return L.LCT_2_CONTEXT_NOT_PRESENT;
    if (anyBits(legacyContextReserved(words, this.caps))) return L.LCT_3_CONTEXT_RESERVED;
    const ttOk = ce.tt === 0 || (ce.tt === 1 && this.caps.dt) || (ce.tt === 2 && this.caps.pt);
    if (!ttOk || agawLevels(ce.aw, this.caps.sagaw) === 0) return L.LCT_4_CONTEXT_INVALID;
    return 0;
  }

  // ---------------------------------------------------------------- scalable mode

  private scalable(c: Ctx, rta: number): TranslationResult {
    const { req } = c;
    const caps = this.caps;
    // [VTD-PASID-5] a PASID beyond ECAP.PSS.
    if (req.pasid !== undefined && (req.pasid < 0 || req.pasid >= 2 ** caps.pasidBits || !caps.pasid)) {
      return this.fault(c, S.SGN_10_PASID_BEYOND_PSS);
    }
    let cached = this.caches.lookupContext(req.sid);
    if (cached === undefined) {
      const re = this.words(rta + (req.sid >> 8) * 16, 2);
      if (re === undefined) return this.fault(c, S.SRT_1_ROOT_ACCESS);
      const upper = (req.sid & 0xff) >= 128;
      const half = (upper ? re[1] : re[0]) as bigint;
      if ((half & 1n) === 0n) return this.fault(c, S.SRT_2_ROOT_NOT_PRESENT);
      if (anyBits(scalableRootReserved(re, caps.haw))) return this.fault(c, S.SRT_3_ROOT_RESERVED);
      const ctp = Number(half & 0x000f_ffff_ffff_f000n);
      const ce = this.words(ctp + (req.sid & 0x7f) * 32, 4);
      if (ce === undefined) return this.fault(c, S.SCT_1_CONTEXT_ACCESS);
      cached = { sid: req.sid, did: -1, words: ce };
      if (this.scalableContextFault(ce) === 0 || caps.cm) this.caches.fillContext(cached);
    }
    const ce = decodeScalableContext(cached.words);
    c.fpd = ce.fpd;
    const bad = this.scalableContextFault(cached.words);
    if (bad !== 0) return this.fault(c, bad);
    const pasidLimit = 2 ** (ce.pdts + 7) * 64;
    if (req.pasid !== undefined) {
      // [VTD-CTX-8] requests with PASID: PASIDE, the PDTS limit, RID_PASID.
      if (!ce.paside) return this.fault(c, S.SCT_6_PASID_DISABLED);
      if (req.pasid >= pasidLimit) return this.fault(c, S.SCT_7_PASID_BEYOND_PDTS);
      if (caps.rps && req.pasid === ce.ridPasid) return this.fault(c, S.SCT_9_PASID_EQUALS_RID_PASID);
    }
    const pasid = req.pasid ?? (caps.rps ? ce.ridPasid : 0);
    // Requests without PASID are user requests (no RID_PRIV support).
    const priv = req.pasid !== undefined && req.priv;

    let pe = this.caches.lookupPasid(req.sid, pasid);
    if (pe === undefined) {
      const dw = this.words(ce.pasidDirPtr + (pasid >> 6) * 8, 1);
      if (dw === undefined) return this.fault(c, S.SPD_1_PASID_DIR_ACCESS);
      const dir = decodePasidDir(dw[0] as bigint);
      c.fpd ||= dir.fpd;
      if (!dir.present) return this.fault(c, S.SPD_2_PASID_DIR_NOT_PRESENT);
      if (pasidDirReserved(dw[0] as bigint, caps.haw) !== 0n)
        return this.fault(c, S.SPD_3_PASID_DIR_RESERVED);
      const pw = this.words(dir.ptp + (pasid & 63) * 64, 8);
      if (pw === undefined) return this.fault(c, S.SPT_1_PASID_ENTRY_ACCESS);
      const valid = this.pasidEntryFault(pw) === 0;
      pe = { sid: req.sid, pasid, did: valid ? decodePasidEntry(pw).did : 0, dirFpd: dir.fpd, words: pw };
      // [VTD-CACHE-2] only valid entries, unless caching mode allows the rest.
      if (valid || caps.cm) this.caches.fillPasid(pe);
    }
    const p = decodePasidEntry(pe.words);
    c.fpd ||= pe.dirFpd || p.fpd;
    const bad2 = this.pasidEntryFault(pe.words);
    if (bad2 !== 0) return this.fault(c, bad2);
    if (priv && !p.sre) return this.fault(c, S.SPT_6_SUPERVISOR_DISABLED);

    const { iova } = req;
    const hi = hi32(iova);
    const lo = lo32(iova);
    if (p.pgtt === 4) {
      // [VTD-PASID-8] pass-through: HAW check; the output is the input.
      if (BigInt.asUintN(64, iova) >> BigInt(caps.haw) !== 0n) return this.fault(c, S.SGN_4_ABOVE_HAW);
      if (inInterruptRange(iova)) return this.fault(c, S.SGN_8_INTERRUPT_RANGE);
      return { ok: true, hpa: Number(iova) };
    }
    const nonSnooped = !caps.smpwcs || !p.pwsnp;
    const levels = agawLevels(p.aw, caps.sagaw) as 3 | 4 | 5;
    const ssWidth = Math.min(caps.mgaw, 30 + 9 * (levels - 2));
    if (p.pgtt === 2) {
      const ss = this.ssParams(p.ssptptr, levels, ssWidth, p.ssade, nonSnooped);
      return this.viaIotlb(c, p.did, pasid, "second-stage", p.wpe, (write) =>
        walkSecondStage(this.mem, ss, hi, lo, write),
      );
    }
    const fs = {
      root: p.fsptptr,
      levels: (p.fspm === 1 ? 5 : 4) as 4 | 5,
      haw: caps.haw,
      fs1gp: caps.fs1gp,
      wpe: p.wpe,
      eafe: p.eafe,
      adNonSnooped: nonSnooped,
    };
    if (p.pgtt === 1) {
      return this.viaIotlb(c, p.did, pasid, "first-stage", p.wpe, (write) =>
        walkFirstStage(this.mem, fs, hi, lo, write, priv),
      );
    }
    const ss = this.ssParams(p.ssptptr, levels, ssWidth, p.ssade, nonSnooped);
    const stage2 = (gpa: number, write: boolean): PagingResult =>
      walkSecondStage(this.mem, ss, Math.floor(gpa / 4294967296), gpa >>> 0, write);
    const nested = { fs, stage2, gpaWidth: ssWidth, ssade: p.ssade };
    return this.viaIotlb(c, p.did, pasid, "nested", p.wpe, (write) =>
      walkNested(this.mem, nested, hi, lo, write, priv),
    );
  }

  /** [VTD-CTX-4] [VTD-CTX-5] The fault a scalable context entry gives, or 0. */
  private scalableContextFault(words: readonly bigint[]): number {
    const ce = decodeScalableContext(words);
    if (!ce.present) return S.SCT_2_CONTEXT_NOT_PRESENT;
    if (anyBits(scalableContextReserved(words, this.caps))) return S.SCT_3_CONTEXT_RESERVED;
    const limit = 2 ** (ce.pdts + 7) * 64;
    if ((!ce.dte && ce.pre) || (ce.eptr && !ce.paside) || (this.caps.rps && ce.ridPasid >= limit)) {
      return S.SCT_4_CONTEXT_INVALID;
    }
    return 0;
  }

  /** [VTD-PASID-6] [VTD-PASID-7] The fault a PASID-table entry gives, or 0. */
  private pasidEntryFault(words: readonly bigint[]): number {
    const caps = this.caps;
    const p = decodePasidEntry(words);
    if (!p.present) return S.SPT_2_PASID_ENTRY_NOT_PRESENT;
    if (anyBits(pasidEntryReserved(words, caps))) return S.SPT_3_PASID_ENTRY_RESERVED;
    const supported =
      (p.pgtt === 1 && caps.fsts) ||
      (p.pgtt === 2 && caps.ssts) ||
      (p.pgtt === 3 && caps.nest) ||
      (p.pgtt === 4 && caps.pt);
    if (!supported) return S.SPT_4_PASID_ENTRY_INVALID;
    const usesSs = p.pgtt === 2 || p.pgtt === 3;
    const usesFs = p.pgtt === 1 || p.pgtt === 3;
    if (usesSs && agawLevels(p.aw, caps.sagaw) === 0) return S.SPT_4_PASID_ENTRY_INVALID;
    if (usesFs && !(p.fspm === 0 || (p.fspm === 1 && caps.fs5lp))) return S.SPT_4_PASID_ENTRY_INVALID;
    if (p.pgtt === 3) {
      const width = Math.min(caps.mgaw, 30 + 9 * (p.aw as number));
      if (p.fsptptr >= 2 ** width) return S.SPT_4_PASID_ENTRY_INVALID;
    }
    return 0;
  }

  // ---------------------------------------------------------------- walks and the IOTLB

  private ssParams(
    root: number,
    levels: 3 | 4 | 5,
    inputWidth: number,
    ssade: boolean,
    adNonSnooped: boolean,
  ): SecondStageParams {
    return {
      root,
      levels,
      inputWidth,
      haw: this.caps.haw,
      snoopControl: this.caps.sc,
      largePages: { twoMiB: (this.caps.sslps & 1) !== 0, oneGiB: (this.caps.sslps & 2) !== 0 },
      ssade,
      adNonSnooped,
    };
  }

  /**
   * [VTD-CACHE-3] Use a cached translation when it permits the request (and, for a write, its
   * dirty flag is already set); otherwise walk, fill the IOTLB, and check the output.
   */
  private viaIotlb(
    c: Ctx,
    did: number,
    pasid: number,
    kind: IotlbKind,
    wpe: boolean,
    walk: (write: boolean) => PagingResult,
  ): TranslationResult {
    const { req } = c;
    const legacy = pasid === -1;
    const priv = req.pasid !== undefined && req.priv;
    const hit = this.caches.lookupIotlb(did, pasid, req.iova);
    if (hit !== undefined && permits(hit, req.write, priv, wpe) && (!req.write || hit.dirty)) {
      const mask = (1n << BigInt(hit.pageShift)) - 1n;
      return this.output(c, legacy, hit.base + Number(BigInt.asUintN(64, req.iova) & mask));
    }
    if (hit !== undefined) this.caches.dropIotlb(hit);
    const r = walk(req.write);
    if (!r.ok) return this.fault(c, legacy ? legacyReason(r, req.write) : scalableReason(r));
    const size = 1n << BigInt(r.pageShift);
    const entry: CachedTranslation = {
      did,
      pasid,
      kind,
      iova: BigInt.asUintN(64, req.iova) & ~(size - 1n),
      pageShift: r.pageShift,
      base: r.base,
      fsW: r.fsW,
      fsU: r.fsU,
      ssR: r.ssR,
      ssW: r.ssW,
      dirty: r.dirty,
    };
    this.caches.fillIotlb(entry);
    return this.output(c, legacy, r.addr);
  }

  /** [VTD-DMA-3] An output in the interrupt range faults. */
  private output(c: Ctx, legacy: boolean, hpa: number): TranslationResult {
    if (inInterruptRange(hpa))
      return this.fault(c, legacy ? L.LGN_4_INTERRUPT_RANGE : S.SGN_8_INTERRUPT_RANGE);
    return { ok: true, hpa };
  }
}
