/**
 * The vIOMMU translation path (VT-d 5.10 §3.4, §3.6–§3.9, §7.1.3): root → context (legacy) or
 * root → scalable context → PASID directory → PASID entry (scalable), then the shared walkers of
 * src/paging, with the fault reason codes of the mode. Caches (caches.ts) hold what was read.
 * Translation enable (GCMD.TE) is the caller's business.
 */

import type { VIommuConfig } from "../contract/types.ts";
import { capabilitiesFor } from "../contract/viommu-capabilities.ts";
import { type PhysicalMemory, readWords } from "../memory/physical-memory.ts";
import {
  type FirstStageParams,
  type NestedParams,
  type PagingResult,
  permits,
  type SecondStageParams,
  type WalkStart,
  WalkTrace,
  walkFirstStage,
  walkNested,
  walkSecondStage,
  withinWidth,
} from "../paging/index.ts";
import {
  decodeLegacyContext,
  decodeScalableContext,
  legacyContextReserved,
  scalableContextReserved,
} from "../spec/context-entry.ts";
import type { EntryCaps } from "../spec/entry-caps.ts";
import {
  LegacyFault as L,
  legacyWalkReason,
  ScalableFault as S,
  scalableWalkReason,
} from "../spec/fault-reasons.ts";
import {
  anyBits,
  decodePasidDir,
  decodePasidEntry,
  pasidDirReserved,
  pasidEntryReserved,
} from "../spec/pasid-entry.ts";
import { decodeLegacyRoot, legacyRootReserved, scalableRootReserved } from "../spec/root-entry.ts";
import { type CachedContext, type CachedPasid, type PscStage, prefixOf, type VtdCaches } from "./caches.ts";
import type { LegacyContextView, PasidView, ScalableContextView, WalkPlan } from "./entry-views.ts";
import { isQualifiedFault } from "./fault-recording.ts";
import type { RootPointer, TranslationRequest, TranslationResult } from "./interfaces.ts";

/** [VTD-DMA-3] The interrupt address range FEEx_xxxxh. */
export function inInterruptRange(addr: bigint | number): boolean {
  return typeof addr === "number"
    ? addr >= 0xfee0_0000 && addr <= 0xfeef_ffff
    : inInterruptRange(Number(addr));
}

/** [VTD-DMA-3] The same test on an address given as 32-bit halves. */
function halvesInInterruptRange(hi: number, lo: number): boolean {
  return hi === 0 && lo >>> 20 === 0xfee;
}

/** Levels of an AW encoding when CAP.SAGAW supports it, else 0. */
function agawLevels(aw: number, sagaw: number): 0 | 3 | 4 | 5 {
  if (aw < 1 || aw > 3 || ((sagaw >> aw) & 1) === 0) return 0;
  return (aw + 2) as 3 | 4 | 5;
}

export class Translator {
  private readonly caps: EntryCaps & ReturnType<typeof capabilitiesFor>;
  /** Reused by every walk: the non-leaf entries it read, and where a cached entry lets it start. */
  private readonly trace = new WalkTrace();
  private readonly start: WalkStart = { level: 0, table: 0, perms: 0 };
  /** PASIDs below this are within ECAP.PSS. */
  private readonly pasidSpace: number;
  /**
   * The shared walkers, held per instance: the seam through which a mutant of the gallery
   * (src/adapters/mutants/) replaces one walker detail without copying the walker.
   */
  walkFirstStage: typeof walkFirstStage = walkFirstStage;
  walkSecondStage: typeof walkSecondStage = walkSecondStage;
  walkNested: typeof walkNested = walkNested;

  constructor(
    readonly config: VIommuConfig,
    private readonly mem: PhysicalMemory,
    private readonly caches: VtdCaches,
  ) {
    this.caps = { ...capabilitiesFor(config), haw: config.hawBits };
    this.pasidSpace = 2 ** this.caps.pasidBits;
  }

  /** [VTD-CACHE-1] [VTD-CACHE-2] An entry that gives a fault may be cached only under caching mode. */
  mayCache(valid: boolean): boolean {
    return valid || this.caps.cm;
  }

  translate(req: TranslationRequest, root: RootPointer): TranslationResult {
    // [VTD-ROOT-5] RTADDR.TTM: 00 legacy, 01 scalable, 10 reserved, 11 abort-DMA.
    if (root.ttm === 3)
      return this.fault(req, false, this.caps.adms ? S.RTA_4_ABORT_DMA_MODE : S.RTA_1_INVALID_RTADDR);
    if (root.ttm === 2 || (root.ttm === 1 && !this.caps.smts))
      return this.fault(req, false, S.RTA_1_INVALID_RTADDR);
    const legacy = root.ttm === 0;
    if (legacy && req.pasid !== undefined) return this.fault(req, false, S.RTA_2_LEGACY_TTM_WITH_PASID);
    // [VTD-DMA-3] requests without PASID to the interrupt range are not DMA.
    if (req.pasid === undefined && halvesInInterruptRange(req.iovaHi, req.iovaLo)) {
      return this.fault(req, false, legacy ? L.LGN_4_INTERRUPT_RANGE : S.SGN_8_INTERRUPT_RANGE);
    }
    return legacy ? this.legacy(req, root.address) : this.scalable(req, root.address);
  }

  /** A fault of the request; fpd: fault processing is disabled by an entry on the way [VTD-CTX-7]. */
  private fault(req: TranslationRequest, fpd: boolean, reason: number): TranslationResult {
    const fault = {
      reason,
      sid: req.sid,
      write: req.write,
      priv: req.priv,
      addr: (BigInt(req.iovaHi >>> 0) << 32n) | BigInt((req.iovaLo & ~0xfff) >>> 0),
      ...(req.pasid !== undefined ? { pasid: req.pasid } : {}),
    };
    return { ok: false, fault, record: !(fpd && isQualifiedFault(reason)) /* [VTD-CTX-7] */ };
  }

  /** Read `count` words at addr, or undefined when not wholly inside memory [VTD-MEM-2]. */
  private words(addr: number, count: number): bigint[] | undefined {
    return this.mem.contains(addr, count * 8) ? readWords(this.mem, addr, count) : undefined;
  }

  // ---------------------------------------------------------------- legacy mode

  private legacy(req: TranslationRequest, rta: number): TranslationResult {
    const caps = this.caps;
    let cached = this.caches.lookupContext(req.sid);
    if (cached === undefined) {
      const re = this.words(rta + (req.sid >> 8) * 16, 2);
      if (re === undefined) return this.fault(req, false, L.LRT_1_ROOT_ACCESS);
      const root = decodeLegacyRoot(re);
      if (!root.present) return this.fault(req, false, L.LRT_2_ROOT_NOT_PRESENT);
      if (anyBits(legacyRootReserved(re, caps.haw))) return this.fault(req, false, L.LRT_3_ROOT_RESERVED);
      const words = this.words(root.ctp + (req.sid & 0xff) * 16, 2);
      if (words === undefined) return this.fault(req, false, L.LCT_1_CONTEXT_ACCESS);
      const view = this.legacyView(words);
      cached = { sid: req.sid, did: view.fault === 0 ? view.did : 0, words, legacyView: view };
      // [VTD-CACHE-1] only valid entries, unless caching mode allows the rest.
      if (this.mayCache(view.fault === 0)) this.caches.fillContext(cached);
    }
    const ce = this.legacyViewOf(cached);
    if (ce.fault !== 0) return this.fault(req, ce.fpd, ce.fault);
    const hi = req.iovaHi;
    const lo = req.iovaLo;
    if (ce.tt === 2) {
      // [VTD-CTX-6] pass-through: HAW check and the interrupt range on the (unchanged) output.
      if (!withinWidth(hi, caps.haw)) return this.fault(req, ce.fpd, L.LGN_1_ADDRESS_BEYOND_WIDTH);
      if (halvesInInterruptRange(hi, lo)) return this.fault(req, ce.fpd, L.LGN_4_INTERRUPT_RANGE);
      return { ok: true, hpa: hi * 2 ** 32 + lo };
    }
    return this.viaIotlb(req, ce.fpd, -1, ce.plan as WalkPlan);
  }

  private legacyViewOf(cached: CachedContext): LegacyContextView {
    if (cached.legacyView === undefined) cached.legacyView = this.legacyView(cached.words);
    return cached.legacyView;
  }

  /** [VTD-CTX-5] Decode a legacy context entry: the fault it gives, or its walk. */
  private legacyView(words: readonly bigint[]): LegacyContextView {
    const caps = this.caps;
    const ce = decodeLegacyContext(words);
    const view = { fault: 0, fpd: ce.fpd, tt: ce.tt, did: ce.did, plan: undefined };
    if (!ce.present) return { ...view, fault: L.LCT_2_CONTEXT_NOT_PRESENT };
    if (anyBits(legacyContextReserved(words, caps))) return { ...view, fault: L.LCT_3_CONTEXT_RESERVED };
    const ttOk = ce.tt === 0 || (ce.tt === 1 && caps.dt) || (ce.tt === 2 && caps.pt);
    const levels = agawLevels(ce.aw, caps.sagaw);
    if (!ttOk || levels === 0) return { ...view, fault: L.LCT_4_CONTEXT_INVALID };
    if (ce.tt === 2) return view;
    const ss = this.ssParams(ce.ssptptr, levels, Math.min(caps.mgaw, 30 + 9 * (levels - 2)), false, false);
    return { ...view, plan: { kind: "second-stage", did: ce.did, wpe: false, ss } };
  }

  // ---------------------------------------------------------------- scalable mode

  private scalable(req: TranslationRequest, rta: number): TranslationResult {
    const caps = this.caps;
    // [VTD-PASID-5] a PASID beyond ECAP.PSS.
    if (req.pasid !== undefined && (req.pasid < 0 || req.pasid >= this.pasidSpace || !caps.pasid)) {
      return this.fault(req, false, S.SGN_10_PASID_BEYOND_PSS);
    }
    let cached = this.caches.lookupContext(req.sid);
    if (cached === undefined) {
      const re = this.words(rta + (req.sid >> 8) * 16, 2);
      if (re === undefined) return this.fault(req, false, S.SRT_1_ROOT_ACCESS);
      const upper = (req.sid & 0xff) >= 128;
      const half = (upper ? re[1] : re[0]) as bigint;
      if ((half & 1n) === 0n) return this.fault(req, false, S.SRT_2_ROOT_NOT_PRESENT);
      if (anyBits(scalableRootReserved(re, caps.haw))) return this.fault(req, false, S.SRT_3_ROOT_RESERVED);
      const ctp = Number(half & 0x000f_ffff_ffff_f000n);
      const words = this.words(ctp + (req.sid & 0x7f) * 32, 4);
      if (words === undefined) return this.fault(req, false, S.SCT_1_CONTEXT_ACCESS);
      cached = { sid: req.sid, did: -1, words, scalableView: this.scalableContextView(words) };
      if (this.mayCache(cached.scalableView?.fault === 0)) this.caches.fillContext(cached);
    }
    const ce = this.scalableViewOf(cached);
    let fpd = ce.fpd;
    if (ce.fault !== 0) return this.fault(req, fpd, ce.fault);
    if (req.pasid !== undefined) {
      // [VTD-CTX-8] requests with PASID: PASIDE, the PDTS limit, RID_PASID.
      if (!ce.paside) return this.fault(req, fpd, S.SCT_6_PASID_DISABLED);
      if (req.pasid >= ce.pasidLimit) return this.fault(req, fpd, S.SCT_7_PASID_BEYOND_PDTS);
      if (caps.rps && req.pasid === ce.ridPasid) return this.fault(req, fpd, S.SCT_9_PASID_EQUALS_RID_PASID);
    }
    const pasid = req.pasid ?? (caps.rps ? ce.ridPasid : 0);
    // Requests without PASID are user requests (no RID_PRIV support).
    const priv = req.pasid !== undefined && req.priv;

    let pe = this.caches.lookupPasid(req.sid, pasid);
    if (pe === undefined) {
      const dw = this.words(ce.pasidDirPtr + (pasid >> 6) * 8, 1);
      if (dw === undefined) return this.fault(req, fpd, S.SPD_1_PASID_DIR_ACCESS);
      const dir = decodePasidDir(dw[0] as bigint);
      fpd ||= dir.fpd;
      if (!dir.present) return this.fault(req, fpd, S.SPD_2_PASID_DIR_NOT_PRESENT);
      if (pasidDirReserved(dw[0] as bigint, caps.haw) !== 0n)
        return this.fault(req, fpd, S.SPD_3_PASID_DIR_RESERVED);
      const pw = this.words(dir.ptp + (pasid & 63) * 64, 8);
      if (pw === undefined) return this.fault(req, fpd, S.SPT_1_PASID_ENTRY_ACCESS);
      const view = this.pasidView(pw);
      const valid = view.fault === 0;
      // [VTD-CACHE-2] tagged by the entry's DID, pass-through (no walk plan) included: a PASID-selective
      // invalidation names that DID.
      const did = valid ? (view.plan?.did ?? Number((pw[1] as bigint) & 0xffffn)) : 0;
      pe = { sid: req.sid, pasid, did, dirFpd: dir.fpd, words: pw, view };
      // [VTD-CACHE-2] only valid entries, unless caching mode allows the rest.
      if (this.mayCache(valid)) this.caches.fillPasid(pe);
    }
    const p = this.pasidViewOf(pe);
    fpd ||= pe.dirFpd || p.fpd;
    if (p.fault !== 0) return this.fault(req, fpd, p.fault);
    if (priv && !p.sre) return this.fault(req, fpd, S.SPT_6_SUPERVISOR_DISABLED);

    if (p.pgtt === 4) {
      // [VTD-PASID-8] pass-through: HAW check; the output is the input.
      const hi = req.iovaHi;
      const lo = req.iovaLo;
      if (!withinWidth(hi, caps.haw)) return this.fault(req, fpd, S.SGN_4_ABOVE_HAW);
      if (halvesInInterruptRange(hi, lo)) return this.fault(req, fpd, S.SGN_8_INTERRUPT_RANGE);
      return { ok: true, hpa: hi * 2 ** 32 + lo };
    }
    return this.viaIotlb(req, fpd, pasid, p.plan as WalkPlan);
  }

  private scalableViewOf(cached: CachedContext): ScalableContextView {
    if (cached.scalableView === undefined) cached.scalableView = this.scalableContextView(cached.words);
    return cached.scalableView;
  }

  /** [VTD-CTX-4] [VTD-CTX-5] Decode a scalable context entry: the fault it gives, or its fields. */
  private scalableContextView(words: readonly bigint[]): ScalableContextView {
    const ce = decodeScalableContext(words);
    const pasidLimit = 2 ** (ce.pdts + 7) * 64;
    const view = {
      fault: 0,
      fpd: ce.fpd,
      paside: ce.paside,
      pasidLimit,
      ridPasid: ce.ridPasid,
      pasidDirPtr: ce.pasidDirPtr,
    };
    if (!ce.present) return { ...view, fault: S.SCT_2_CONTEXT_NOT_PRESENT };
    if (anyBits(scalableContextReserved(words, this.caps)))
      return { ...view, fault: S.SCT_3_CONTEXT_RESERVED };
    if ((!ce.dte && ce.pre) || (ce.eptr && !ce.paside) || (this.caps.rps && ce.ridPasid >= pasidLimit)) {
      return { ...view, fault: S.SCT_4_CONTEXT_INVALID };
    }
    return view;
  }

  private pasidViewOf(cached: CachedPasid): PasidView {
    if (cached.view === undefined) cached.view = this.pasidView(cached.words);
    return cached.view;
  }

  /** [VTD-PASID-6] [VTD-PASID-7] Decode a PASID-table entry: the fault it gives, or its walk. */
  private pasidView(words: readonly bigint[]): PasidView {
    const caps = this.caps;
    const p = decodePasidEntry(words);
    const view = { fault: 0, fpd: p.fpd, pgtt: p.pgtt, sre: p.sre, plan: undefined };
    const invalid = { ...view, fault: S.SPT_4_PASID_ENTRY_INVALID };
    if (!p.present) return { ...view, fault: S.SPT_2_PASID_ENTRY_NOT_PRESENT };
    if (anyBits(pasidEntryReserved(words, caps))) return { ...view, fault: S.SPT_3_PASID_ENTRY_RESERVED };
    const supported =
      (p.pgtt === 1 && caps.fsts) ||
      (p.pgtt === 2 && caps.ssts) ||
      (p.pgtt === 3 && caps.nest) ||
      (p.pgtt === 4 && caps.pt);
    if (!supported) return invalid;
    const usesSs = p.pgtt === 2 || p.pgtt === 3;
    const usesFs = p.pgtt === 1 || p.pgtt === 3;
    const levels = agawLevels(p.aw, caps.sagaw);
    if (usesSs && levels === 0) return invalid;
    if (usesFs && !(p.fspm === 0 || (p.fspm === 1 && caps.fs5lp))) return invalid;
    const ssWidth = Math.min(caps.mgaw, 30 + 9 * (levels - 2));
    if (p.pgtt === 3 && p.fsptptr >= 2 ** Math.min(caps.mgaw, 30 + 9 * p.aw)) return invalid;
    if (p.pgtt === 4) return view;

    const nonSnooped = !caps.smpwcs || !p.pwsnp;
    const plan: WalkPlan = { kind: "second-stage", did: p.did, wpe: p.wpe };
    if (usesSs) plan.ss = this.ssParams(p.ssptptr, levels as 3 | 4 | 5, ssWidth, p.ssade, nonSnooped);
    if (usesFs) {
      plan.fs = {
        root: p.fsptptr,
        levels: p.fspm === 1 ? 5 : 4,
        haw: caps.haw,
        fs1gp: caps.fs1gp,
        wpe: p.wpe,
        eafe: p.eafe,
        adNonSnooped: nonSnooped,
      };
    }
    if (p.pgtt === 1) plan.kind = "first-stage";
    if (p.pgtt === 3) {
      const mem = this.mem;
      const ss = plan.ss as SecondStageParams;
      const stage2 = (gpa: number, write: boolean): PagingResult =>
        walkSecondStage(mem, ss, Math.floor(gpa / 2 ** 32), gpa >>> 0, write);
      plan.kind = "nested";
      plan.nested = { fs: plan.fs as FirstStageParams, stage2, gpaWidth: ssWidth, ssade: p.ssade };
    }
    return { ...view, plan };
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
  private viaIotlb(req: TranslationRequest, fpd: boolean, pasid: number, plan: WalkPlan): TranslationResult {
    const legacy = pasid === -1;
    const priv = req.pasid !== undefined && req.priv;
    const hi = req.iovaHi;
    const lo = req.iovaLo;
    const hit = this.caches.lookupIotlb(req.sid, plan.did, pasid, hi, lo);
    if (hit !== undefined) {
      if (permits(hit, req.write, priv, plan.wpe) && (!req.write || hit.dirty)) {
        // The page offset: every page size is below 2^31, so it lies in lo.
        return this.output(req, fpd, legacy, hit.base + (lo & ((1 << hit.pageShift) - 1)));
      }
      this.caches.dropIotlb(hit);
    }
    const r = this.walk(plan, pasid, hi, lo, req.write, priv);
    if (!r.ok) return this.fault(req, fpd, legacy ? legacyWalkReason(r, req.write) : scalableWalkReason(r));
    if (this.caches.iotlbEnabled) {
      this.caches.fillIotlb({
        sid: req.sid,
        did: plan.did,
        pasid,
        kind: plan.kind,
        iova: BigInt(prefixOf(hi, lo, r.pageShift)) << BigInt(r.pageShift),
        pageShift: r.pageShift,
        base: r.base,
        fsW: r.fsW,
        fsU: r.fsU,
        ssR: r.ssR,
        ssW: r.ssW,
        dirty: r.dirty,
      });
    }
    return this.output(req, fpd, legacy, r.addr);
  }

  /**
   * Walk the tables of the plan for (hi, lo). First-stage and second-stage walks start from the
   * deepest paging-structure-cache entry that covers the address and fill the caches with the
   * non-leaf entries they read [VTD-CACHE-11]; nested walks are not cached there.
   */
  private walk(
    plan: WalkPlan,
    pasid: number,
    hi: number,
    lo: number,
    write: boolean,
    priv: boolean,
  ): PagingResult {
    const mem = this.mem;
    const psc = this.caches.pscEnabled;
    switch (plan.kind) {
      case "first-stage": {
        const fs = plan.fs as FirstStageParams;
        if (!psc) return this.walkFirstStage(mem, fs, hi, lo, write, priv);
        const start = this.pscStart(plan.did, pasid, "first", fs.levels, hi, lo);
        const r = this.walkFirstStage(mem, fs, hi, lo, write, priv, this.trace, start);
        if (r.ok) this.pscFill(plan.did, pasid, "first", hi, lo);
        return r;
      }
      case "nested":
        return this.walkNested(mem, plan.nested as NestedParams, hi, lo, write, priv);
      default: {
        const ss = plan.ss as SecondStageParams;
        if (!psc) return this.walkSecondStage(mem, ss, hi, lo, write);
        const start = this.pscStart(plan.did, pasid, "second", ss.levels, hi, lo);
        const r = this.walkSecondStage(mem, ss, hi, lo, write, this.trace, start);
        if (r.ok) this.pscFill(plan.did, pasid, "second", hi, lo);
        return r;
      }
    }
  }

  /** [VTD-CACHE-11] Where the deepest cached non-leaf entry for (hi, lo) lets the walk start. */
  private pscStart(
    did: number,
    pasid: number,
    stage: PscStage,
    levels: number,
    hi: number,
    lo: number,
  ): WalkStart | undefined {
    for (let level = 2; level <= levels; level++) {
      const e = this.caches.lookupPsc(did, pasid, stage, level, hi, lo);
      if (e !== undefined) {
        this.caches.countPsc(true);
        this.start.level = level - 1;
        this.start.table = e.next;
        this.start.perms = e.perms;
        return this.start;
      }
    }
    this.caches.countPsc(false);
    return undefined;
  }

  /**
   * [VTD-CACHE-11] Cache the non-leaf entries a successful walk read from memory (its trace): they
   * were present and error-free, and the walk has set their A flags (first stage, SSADE).
   */
  private pscFill(did: number, pasid: number, stage: PscStage, hi: number, lo: number): void {
    const t = this.trace;
    for (let i = 0; i < t.count; i++) {
      const level = t.level[i] as number;
      const shift = 3 + 9 * level;
      this.caches.fillPsc({
        did,
        pasid,
        stage,
        level,
        prefix: prefixOf(hi, lo, shift),
        shift,
        next: t.next[i] as number,
        perms: t.perms[i] as number,
      });
    }
  }

  /** [VTD-DMA-3] An output in the interrupt range faults. */
  private output(req: TranslationRequest, fpd: boolean, legacy: boolean, hpa: number): TranslationResult {
    if (hpa >= 0xfee0_0000 && hpa <= 0xfeef_ffff)
      return this.fault(req, fpd, legacy ? L.LGN_4_INTERRUPT_RANGE : S.SGN_8_INTERRUPT_RANGE);
    return { ok: true, hpa };
  }
}
