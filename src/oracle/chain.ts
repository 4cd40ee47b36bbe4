/**
 * The may-cache timeline of one request shape (SID, PASID or none, input 4 KiB page)
 * [ORACLE-TIME-1..4]. It replays the steps since reset and keeps, for every cache key the
 * request's walks touch, the values a model could hold now: every value a walk could have filled
 * at some step t (fresh from memory at t, possibly through upper-level values themselves
 * permitted at t), unless an invalidation covering it, submitted after t, has completed.
 * Only steps that change a word the walks read, the root pointer or TE, or that complete an
 * invalidation, are re-walked; in between, the sets do not change.
 */

import type { TranslationMode } from "../contract/types.ts";
import { LegacyFault as L, ScalableFault as S } from "../spec/fault-reasons.ts";
import { levelShift } from "../spec/paging-entry.ts";
import type { RootPointer } from "../spec/root-entry.ts";
import { hex } from "../spec/word.ts";
import type { OracleConfig } from "./config.ts";
import type { Completion, Control } from "./control.ts";
import { covers } from "./coverage.ts";
import { accessedBits, dirtyBit, type FlagMarks } from "./flag-marks.ts";
import type { HistoryMemory, WordReader } from "./history-memory.ts";
import type { CacheKey, PscKey } from "./keys.ts";
import { keyText } from "./keys.ts";
import {
  type CachedFrontier,
  type EntryRead,
  type NestedCaches,
  type NestedFrontier,
  nestedOutcomes,
  readBelow,
} from "./nested.ts";
import { type OutcomeValue, type Permitted, type TranslationValue, valueId } from "./outcome.ts";
import {
  ALL_RIGHTS,
  type Frontier,
  inputCheck,
  legacySetup,
  type PagingStep,
  pagingStep,
  rootFrontier,
  type Setup,
  scalableSetup,
  translation,
} from "./paging.ts";
import { intersectUsed, NO_USE, type Used, type UsedWord, withUse } from "./required-flags.ts";
import {
  type ContextValue,
  effectivePasid,
  fault,
  type PasidValue,
  type Step,
  walkContext,
  walkPasid,
} from "./structures.ts";

/** What the chains read of the observed stream. */
export interface Timeline {
  cfg: OracleConfig;
  mem: HistoryMemory;
  control: Control;
  /** Step of the last reset. */
  start: number;
  completions: Map<number, Completion[]>;
  /**
   * Steps, ascending, that completed an invalidation or changed the root pointer or TE: every
   * chain re-walks there. Steps that change memory are found in the memory's history instead.
   */
  events: number[];
  /** [ORACLE-JUDGE-9] Where the walks may have set A/EA/D flags. */
  flags: FlagMarks;
}

/** Record that step t is an event (steps arrive in order, each recorded once). */
export function addEvent(tl: Timeline, t: number): void {
  if (tl.events[tl.events.length - 1] !== t) tl.events.push(t);
}

/** The first event after step `after`, or Infinity. */
function nextEvent(events: readonly number[], after: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((events[mid] as number) <= after) lo = mid + 1;
    else hi = mid;
  }
  return events[lo] ?? Number.POSITIVE_INFINITY;
}

type Payload =
  | { cls: "context"; step: Step<ContextValue> }
  | { cls: "pasid"; step: Step<PasidValue> }
  | { cls: "psc"; next: Frontier }
  /** [ORACLE-WALK-7] (a) a nested (combined) paging-structure value: the next first-stage table's HPA. */
  | { cls: "nested"; next: NestedFrontier }
  | { cls: "iotlb"; value: OutcomeValue };

interface Entry {
  key: CacheKey;
  /** keyText(key), kept: lookups compare it for every value at every level. */
  kt: string;
  mode: TranslationMode;
  payload: Payload;
  /** Step of the first fill (for explanations). */
  since: number;
  /**
   * Last step at which it could have been filled through each upper value ("root" for the root
   * pointer, else the id of the cache entry the walk went through); Infinity while fillable now.
   */
  vias: Map<string, number>;
  explain: string;
  /**
   * [ORACLE-JUDGE-11] Paging-structure and IOTLB values: the entries every fill of it read from
   * memory and flagged (§6.2.4.1, §6.2.5.1–§6.2.5.4: A before caching), intersected over fills.
   */
  used: Used;
}

/** [VTD-DMA-3] The interrupt address range, as input pages. */
const INTR_PAGE_LO = 0xfee0_0000n;
const INTR_PAGE_END = 0xfef0_0000n;

/**
 * [ORACLE-JUDGE-1] The A/D fault a walk through this setup may also meet when its page walks do not
 * snoop (PWSNP = 0) and it would set flags: first-stage A/D (SFS.9), or second-stage with SSADE (SSS.5).
 */
function adFaultCode(st: Setup): number | undefined {
  if (st.pwsnp || (st.stage !== "first" && !st.ssade)) return undefined;
  return st.stage === "first" ? S.SFS_9_AD_NON_SNOOPED : S.SSS_5;
}

/**
 * [ORACLE-JUDGE-1] Flags a walk would set in an entry it read, clear in the oracle's memory: A (and
 * EA with EAFE) for any access, D of a leaf for a write (second stage: only with SSADE).
 */
function flagsToSet(st: Setup, word: bigint, leaf: boolean): { any: boolean; write: boolean } {
  const stage = st.stage === "first" ? "first" : "second";
  const a = accessedBits(st, stage);
  const d = leaf ? dirtyBit(st, stage) : 0n;
  return { any: (word & a) !== a, write: (word & d) !== d };
}

/** [ORACLE-JUDGE-1] A leaf with the A/D fault a non-snooping walk may take, only where a flag is clear. */
function withAdFault(
  v: TranslationValue,
  code: number | undefined,
  above: boolean,
  need: { any: boolean; write: boolean },
): TranslationValue {
  if (code === undefined || !(above || need.any || need.write)) return v;
  return above || need.any ? { ...v, adFault: code } : { ...v, adFault: code, adFaultWriteOnly: true };
}

/** The frontier below a pointer entry, remembering whether a flag is to be set above. */
function below(f: Frontier, r: Extract<PagingStep, { kind: "next" }>, st: Setup): Frontier {
  const need = (f.adNeed ?? false) || flagsToSet(st, r.word, false).any;
  return need ? { ...r.next, adNeed: true } : r.next;
}

const CLASS_ORDER: Record<CacheKey["cls"], number> = { context: 0, pasid: 1, psc: 2, iotlb: 3 };

/** `used` read no earlier than step `t`: its flags were set by a fill at or after `t` (itself if so already). */
function readSince(used: Used, t: number): Used {
  let older = false;
  for (const u of used.values()) if (u.since < t) older = true;
  if (!older) return used;
  const out = new Map<number, UsedWord>();
  for (const [at, u] of used) out.set(at, u.since >= t ? u : { ...u, since: t });
  return out;
}

function lastFill(e: Entry): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const t of e.vias.values()) m = Math.max(m, t);
  return m;
}

const LIVE = Number.POSITIVE_INFINITY;

export class Chain {
  private upTo: number;
  /** Root pointer and TE of the last re-walk, when it was settled (see recompute). */
  private settled: { rp: RootPointer | undefined; te: boolean } | undefined;
  private reads = new Set<number>();
  private readonly entries = new Map<string, Entry>();
  private current: Permitted[] = [];
  /** "DID/PASID tag" of the walks the request may take now: the IOTLB tags it may look up. */
  lookupTags = new Set<string>();
  /** The walks (setups) the request may take at the last recompute, with their mode; none with TE = 0. */
  private walkable: { mode: TranslationMode; setups: Setup[] } = { mode: "legacy", setups: [] };
  /** What the last re-walk permits with TE = 1, and the walks it may take; applyTe picks by TE. */
  private translated: { out: Permitted[]; walkable: { mode: TranslationMode; setups: Setup[] } } = {
    out: [],
    walkable: { mode: "legacy", setups: [] },
  };

  /**
   * [ORACLE-SCOPE-1] Paging-structure values this chain may hold now: the cache is tagged by DID
   * (and PASID), not by requester, so a request of another SID whose walk uses the same DID, PASID
   * tag and stage may start from them.
   */
  pscValues(): Array<{ key: PscKey; mode: TranslationMode; next: Frontier; explain: string; used: Used }> {
    const out: Array<{ key: PscKey; mode: TranslationMode; next: Frontier; explain: string; used: Used }> =
      [];
    for (const e of this.entries.values())
      if (e.payload.cls === "psc" && e.key.cls === "psc")
        out.push({
          key: e.key,
          mode: e.mode,
          next: e.payload.next,
          used: e.used,
          explain: `[${keyText(e.key)} filled by SID 0x${this.sid.toString(16)}, step ${e.since}..${fmt(lastFill(e))}]`,
        });
    return out;
  }

  /**
   * [ORACLE-SCOPE-1] The outcomes of walks of this request that start, at step `now`, from
   * paging-structure values other chains may hold (pscValues), below the level they cover. These
   * walks read memory as it is now; what they would fill is not kept (an under-approximation).
   * [ORACLE-JUDGE-11] Each requires what the value's fills flagged above it and what it read below.
   */
  walkShared(now: number, shared: ReturnType<Chain["pscValues"]>): Permitted[] {
    const out: Permitted[] = [];
    const { cfg } = this.tl;
    const mem = this.tl.mem.at(now);
    const reads = new Set<number>();
    for (const st of this.walkable.setups) {
      if (st.stage === "nested" || st.stage === "pass-through") continue;
      if (inputCheck(st, this.page, cfg) !== null) continue;
      const tag = (v: OutcomeValue): OutcomeValue =>
        this.walkable.mode === "scalable" && v.kind === "fault"
          ? { ...v, pasidEntry: { sre: st.sre, fpd: st.fpd } }
          : v;
      const adFault = adFaultCode(st);
      const flagStage = st.stage === "first" ? "first" : "second";
      const aBits = accessedBits(st, flagStage);
      for (const v of shared) {
        const k = v.key;
        if (v.mode !== this.walkable.mode || k.did !== st.did || k.pasid !== st.pasidTag) continue;
        if (
          k.stage !== st.stage ||
          k.level > st.levels ||
          (this.page >> BigInt(k.shift)) << BigInt(k.shift) !== k.region
        )
          continue;
        let f: Frontier | undefined = { ...v.next, explain: `${v.next.explain} ${v.explain}` };
        let used = v.used;
        while (f !== undefined && f.level >= 1) {
          const r = pagingStep(mem, st, f, this.page, cfg, reads);
          this.markStep(st, r);
          const from: Frontier = f;
          f = undefined;
          if (r.kind === "next") {
            f = below(from, r, st);
            used = withUse(used, r.at, aBits, 0n, now);
          } else if (r.kind === "leaf")
            out.push({
              value: withAdFault(r.value, adFault, from.adNeed ?? false, flagsToSet(st, r.word, true)),
              explain: r.explain,
              used: withUse(used, r.at, aBits, dirtyBit(st, flagStage), now),
            });
          else out.push({ value: tag(r.fault), explain: r.explain });
        }
      }
    }
    return out;
  }

  /**
   * [ORACLE-KEY-4] IOTLB values this chain may hold, with their tag: a request of the same
   * requester and page, with or without PASID, whose walk uses the same DID and PASID tag may hit
   * them (§6.2.1: "Implementation may allow requests-with-PASID from a given Requester-ID to hit
   * entries brought into IOTLB by requests-without-PASID from the same Requester-ID").
   */
  iotlbValues(): Array<{ tag: string; value: OutcomeValue; explain: string; used: Used }> {
    const out: Array<{ tag: string; value: OutcomeValue; explain: string; used: Used }> = [];
    for (const e of this.entries.values())
      if (e.payload.cls === "iotlb" && e.key.cls === "iotlb")
        out.push({
          tag: `${e.key.did}/${e.key.pasid ?? "-"}`,
          value: e.payload.value,
          used: e.used,
          explain: `${e.explain} [IOTLB ${keyText(e.key)} filled by SID 0x${this.sid.toString(16)}, step ${e.since}]`,
        });
    return out;
  }

  constructor(
    readonly sid: number,
    readonly pasid: number | undefined,
    readonly page: bigint,
    private readonly tl: Timeline,
  ) {
    this.upTo = tl.start - 1;
  }

  /** [ORACLE-JUDGE-9] A write completed on this page: leaves its walks used may now have D set. */
  private wrote = false;
  /** Leaf entries its walks used, with the D flag a write through them sets. */
  private readonly leaves = new Map<number, bigint>();

  noteWrite(): void {
    this.wrote = true;
    for (const [at, d] of this.leaves) this.tl.flags.mark(at, d);
  }

  /** [ORACLE-JUDGE-9] An entry a walk used: its A (EA) flags, and D on a leaf once a write came. */
  private readonly markEntry = (at: number, accessed: bigint, dirty: bigint): void => {
    this.tl.flags.mark(at, accessed);
    if (dirty === 0n) return;
    this.leaves.set(at, dirty);
    if (this.wrote) this.tl.flags.mark(at, dirty);
  };

  private markStep(st: Setup, r: PagingStep): void {
    if (r.kind === "fault") return;
    const stage = st.stage === "first" ? "first" : "second";
    this.markEntry(r.at, accessedBits(st, stage), r.kind === "leaf" ? dirtyBit(st, stage) : 0n);
  }

  /**
   * [ORACLE-TIME-1] The outcomes permitted at step `now` (steps are replayed up to it). Only the
   * steps that can change the sets are visited: the reset, events, and the next change of a word
   * the last walks read (found in the memory's history); in between, nothing a walk sees changes.
   */
  permitted(now: number): Permitted[] {
    const { start, mem, events, control } = this.tl;
    let after = this.upTo;
    for (;;) {
      let memory = Number.POSITIVE_INFINITY;
      for (const a of this.reads) {
        const c = mem.nextChange(a, after);
        if (c < memory) memory = c;
      }
      const event = start > after ? start : nextEvent(events, after);
      const s = Math.min(memory, event);
      if (s > now) break;
      let killed = false;
      for (const c of this.tl.completions.get(s) ?? []) killed = this.kill(c) || killed;
      // A settled walk, re-walked with the same memory, root pointer and cache contents, gives the
      // same values, fills and explanations: the step can be passed over, switching TE if it changed.
      const settled = this.settled;
      const te = control.teAt(s);
      if (
        settled !== undefined &&
        s !== start &&
        memory > s &&
        !killed &&
        sameRoot(settled.rp, control.rootAt(s))
      ) {
        if (te !== settled.te) {
          this.applyTe(te);
          this.settled = { rp: settled.rp, te };
        }
      } else this.settled = this.recompute(s) ? { rp: control.rootAt(s), te } : undefined;
      after = s;
    }
    this.upTo = Math.max(this.upTo, now);
    return this.current;
  }

  /**
   * [ORACLE-TIME-2] A completed invalidation drops each covered value unless it could have been
   * filled after the submission through an upper value that itself survives (upper levels first:
   * a fill that went through a value this invalidation removes dies with it).
   */
  private kill(c: Completion): boolean {
    let changed = false;
    // Coverage depends on the key alone: only the covered values need ordering.
    const order: Array<[string, Entry]> = [];
    const covered = new Set<string>();
    for (const pair of this.entries) {
      const e = pair[1];
      const cov = covers(c.scope, e.key, c.mode);
      if (cov) covered.add(pair[0]);
      if (e.mode !== c.mode || cov) order.push(pair); // [ORACLE-TIME-4]
    }
    if (order.length > 1)
      order.sort(
        ([, a], [, b]) => CLASS_ORDER[a.key.cls] - CLASS_ORDER[b.key.cls] || level(b.key) - level(a.key),
      );
    // A value may need several others ("via&id", ORACLE-WALK-7): repeat until no more die.
    let pass = true;
    while (pass) {
      pass = false;
      for (const [id, e] of order) {
        if (!this.entries.has(id)) continue;
        let survives = false;
        for (const [via, t] of e.vias) {
          if (t >= c.submit && via.split("&").every((p) => p === "root" || this.entries.has(p)))
            survives = true;
          else {
            e.vias.delete(via);
            changed = true;
          }
        }
        if (!survives) {
          this.entries.delete(id);
          changed = true;
          pass = true;
        } else if (covered.has(id) && [...e.vias.keys()].every((v) => this.refilledWhole(v, covered))) {
          const used = readSince(e.used, c.submit);
          if (used !== e.used) changed = true; // the permitted set's requirements change
          e.used = used;
        }
      }
    }
    return changed;
  }

  /**
   * [ORACLE-JUDGE-11] [ORACLE-TIME-2] Whether a covered value that survived through `via` was filled
   * after the submission by a walk that read every paging entry it flagged then: through the root
   * pointer or context and PASID values (which hold no paging entry), or through paging-structure
   * values the same invalidation covered (which survived only so refilled themselves).
   */
  private refilledWhole(via: string, covered: ReadonlySet<string>): boolean {
    return via.split("&").every((p) => {
      if (p === "root" || covered.has(p)) return true;
      const cls = this.entries.get(p)?.key.cls;
      return cls === "context" || cls === "pasid";
    });
  }

  private fill(
    key: CacheKey,
    mode: TranslationMode,
    valId: string,
    payload: Payload,
    s: number,
    explain: string,
    vias: readonly string[],
    used: Used = NO_USE,
  ): string {
    const kt = keyText(key);
    const id = `${kt}|${valId}`;
    let e = this.entries.get(id);
    if (e === undefined) {
      e = { key, kt, mode, payload, since: s, vias: new Map(), explain, used };
      this.entries.set(id, e);
    } else e.used = intersectUsed(e.used, used);
    for (const v of vias) e.vias.set(v, LIVE);
    return id;
  }

  private aliveIds(mode: TranslationMode, match: (e: Entry) => boolean): Array<[string, Entry]> {
    const out: Array<[string, Entry]> = [];
    for (const [id, e] of this.entries) if (e.mode === mode && match(e)) out.push([id, e]);
    return out;
  }

  private alive(mode: TranslationMode, match: (e: Entry) => boolean): Entry[] {
    const out: Entry[] = [];
    for (const e of this.entries.values()) if (e.mode === mode && match(e)) out.push(e);
    return out;
  }

  /**
   * [ORACLE-TIME-3] Re-walk at step s: fresh values fill the caches; the permitted set is rebuilt.
   * Returns whether the walk is settled: it took one path (one context, one PASID entry, so one
   * setup), so every cached value it looked up was there before it started, and a re-walk with the
   * same inputs would change nothing.
   */
  private recompute(s: number): boolean {
    const { cfg, control } = this.tl;
    for (const e of this.entries.values()) for (const [v, t] of e.vias) if (t === LIVE) e.vias.set(v, s - 1);
    const reads = new Set<number>();
    this.reads = reads;
    const base = this.tl.mem.at(s);
    const mem: WordReader = {
      size: base.size,
      word: (a) => {
        reads.add(a);
        return base.word(a);
      },
    };
    const rp = control.rootAt(s);
    const te = control.teAt(s);
    const out: Permitted[] = [];
    const seen = new Map<string, Permitted>();
    // [ORACLE-JUDGE-11] a value reached several ways needs only the entries every way read.
    const add = (value: OutcomeValue, explain: string, used: Used = NO_USE) => {
      const id = valueId(value);
      const had = seen.get(id);
      if (had !== undefined) {
        had.used = intersectUsed(had.used ?? NO_USE, used);
        return;
      }
      const p: Permitted = { value, explain, used };
      seen.set(id, p);
      out.push(p);
    };
    if (rp === undefined) {
      // [ORACLE-WALK-6] No root pointer latched yet: nothing can be walked or cached.
      add(fault(S.RTA_1_INVALID_RTADDR), "translation enabled before any root pointer was latched");
      this.translated = { out, walkable: { mode: "legacy", setups: [] } };
      this.applyTe(te);
      return true;
    }
    if (rp.ttm === 2 || rp.ttm === 3) {
      // [ORACLE-WALK-6] reserved TTM and abort-DMA mode block every request.
      add(
        fault(rp.ttm === 3 ? S.RTA_4_ABORT_DMA_MODE : S.RTA_1_INVALID_RTADDR),
        `root pointer TTM=${rp.ttm}`,
      );
      this.translated = { out, walkable: { mode: "legacy", setups: [] } };
      this.applyTe(te);
      return true;
    }
    const mode: TranslationMode = rp.ttm === 1 ? "scalable" : "legacy";
    const faults: Permitted[] = [];
    const leaves: Permitted[] = [];
    const setups: Array<{ setup: Setup; src: string[] }> = [];
    let settled = true;

    if (mode === "legacy" && this.pasid !== undefined) {
      faults.push({
        value: fault(S.RTA_2_LEGACY_TTM_WITH_PASID),
        explain: "request with PASID in legacy mode",
      });
    } else if (this.pasid === undefined && this.page >= INTR_PAGE_LO && this.page < INTR_PAGE_END) {
      // [ORACLE-WALK-8] (VTD-DMA-3) a request without PASID to the interrupt range is not DMA:
      // blocked before any table is read, so recorded whatever FPD says.
      faults.push({
        value: fault(mode === "legacy" ? L.LGN_4_INTERRUPT_RANGE : S.SGN_8_INTERRUPT_RANGE),
        explain: "request without PASID to the interrupt range 0xFEE00000-0xFEEFFFFF",
      });
    } else if (this.pasid !== undefined && (cfg.pasidBits === 0 || this.pasid >= 2 ** cfg.pasidBits)) {
      // [VTD-PASID-5] the PASID width is checked before any table is read.
      faults.push({
        value: fault(S.SGN_10_PASID_BEYOND_PSS),
        explain: `PASID ${this.pasid} beyond ECAP.PSS (${cfg.pasidBits} bits)`,
      });
    } else {
      // Context level: fresh, plus what the context cache may hold for this SID.
      const fresh = walkContext(mem, rp, this.sid, cfg);
      const freshId = ctxId(fresh);
      const ctxs: Array<{ step: Step<ContextValue>; explain: string; src: string[] }> = [
        { step: fresh, explain: stepExplain(fresh, "fresh"), src: ["root"] },
      ];
      if (fresh.ok || cfg.cm) {
        const did = fresh.ok ? fresh.value.did : 0;
        const id = this.fill(
          { cls: "context", mode, sid: this.sid, did },
          mode,
          freshId,
          { cls: "context", step: fresh },
          s,
          stepExplain(fresh, ""),
          ["root"],
        );
        (ctxs[0] as { src: string[] }).src = [id];
      }
      for (const [id, e] of this.aliveIds(
        mode,
        (e) => e.payload.cls === "context" && e.key.cls === "context" && e.key.sid === this.sid,
      )) {
        if (e.payload.cls === "context" && ctxId(e.payload.step) !== freshId)
          ctxs.push({
            step: e.payload.step,
            explain: `${e.explain} [context cache, filled step ${e.since}..${fmt(lastFill(e))}]`,
            src: [id],
          });
      }
      if (ctxs.length > 1) settled = false;
      for (const c of ctxs) {
        if (!c.step.ok) {
          faults.push({ value: c.step.fault, explain: c.explain });
          continue;
        }
        if (mode === "legacy") {
          setups.push({ setup: legacySetup(c.step.value, cfg), src: c.src });
          continue;
        }
        const ctx = c.step.value;
        const pfresh = walkPasid(mem, ctx, this.pasid, cfg);
        const pfreshId = ctxId(pfresh);
        const ps: Array<{ step: Step<PasidValue>; explain: string; src: string[] }> = [
          { step: pfresh, explain: stepExplain(pfresh, "fresh"), src: c.src },
        ];
        const eff = effectivePasid(ctx, this.pasid);
        const cacheableFault =
          !pfresh.ok && cfg.cm && pfresh.fault.reason.read >= 0x50 && pfresh.fault.reason.read < 0x60;
        if (pfresh.ok || cacheableFault) {
          const did = pfresh.ok ? pfresh.value.did : 0;
          const id = this.fill(
            { cls: "pasid", sid: this.sid, pasid: eff, did },
            mode,
            pfreshId,
            { cls: "pasid", step: pfresh },
            s,
            stepExplain(pfresh, ""),
            c.src,
          );
          (ps[0] as { src: string[] }).src = [id];
        }
        for (const [id, e] of this.aliveIds(
          mode,
          (e) => e.key.cls === "pasid" && e.key.sid === this.sid && e.key.pasid === eff,
        )) {
          if (e.payload.cls === "pasid" && ctxId(e.payload.step) !== pfreshId)
            ps.push({
              step: e.payload.step,
              explain: `${e.explain} [PASID cache, filled step ${e.since}..${fmt(lastFill(e))}]`,
              src: [id],
            });
        }
        if (ps.length > 1) settled = false;
        for (const p of ps) {
          if (!p.step.ok) faults.push({ value: p.step.fault, explain: p.explain });
          else setups.push({ setup: scalableSetup(p.step.value, cfg), src: p.src });
        }
      }
    }

    const bySetup = new Map<string, { setup: Setup; src: string[] }>();
    for (const st of setups) {
      const k = setupKey(st.setup);
      const have = bySetup.get(k);
      if (have === undefined) bySetup.set(k, { setup: st.setup, src: [...st.src] });
      else have.src.push(...st.src);
    }
    this.lookupTags = new Set(
      [...bySetup.values()].map((st) => `${st.setup.did}/${st.setup.pasidTag ?? "-"}`),
    );
    const walkable = { mode, setups: [...bySetup.values()].map((st) => st.setup) };
    for (const st of bySetup.values()) this.walkSetup(st.setup, st.src, mem, mode, s, faults, leaves);

    // IOTLB: fresh leaves fill it; everything it may hold is permitted (looked up by SID and page).
    for (const l of leaves) add(l.value, l.explain, l.used);
    for (const f of faults) add(f.value, f.explain);
    for (const e of this.alive(mode, (e) => e.payload.cls === "iotlb")) {
      if (e.payload.cls === "iotlb")
        add(
          e.payload.value,
          `${e.explain} [IOTLB ${keyText(e.key)}, filled step ${e.since}..${fmt(lastFill(e))}]`,
          e.used,
        );
    }
    this.translated = { out, walkable };
    this.applyTe(te);
    return settled;
  }

  /** [ORACLE-WALK-6] With TE = 0 requests are not translated (the caches may still fill). */
  private applyTe(te: boolean): void {
    const { out, walkable } = this.translated;
    this.current = te ? out : [this.untranslated()];
    this.walkable = te ? walkable : { mode: walkable.mode, setups: [] };
  }

  /** [ORACLE-WALK-6] (VTD-DMA-4) with TE = 0 a request with PASID is blocked without a fault record. */
  private untranslated(): Permitted {
    if (this.pasid !== undefined)
      return {
        value: { kind: "fault", reason: { read: 0, write: 0 }, record: "no" },
        explain: "TE = 0: request with PASID blocked",
      };
    return {
      value: {
        kind: "translation",
        out: Number(this.page),
        pageShift: 12,
        rights: ALL_RIGHTS,
        wpe: false,
        sre: true,
        fpd: false,
        scalable: false,
        identity: true,
        stage: "untranslated",
      },
      explain: "translation disabled (TE = 0): untranslated",
    };
  }

  private walkSetup(
    st: Setup,
    src: string[],
    mem: WordReader,
    mode: TranslationMode,
    s: number,
    faults: Permitted[],
    leaves: Permitted[],
  ): void {
    // [VTD-PASID-7] a supervisor request through a PASID entry with SRE = 0 faults SPT.6 before the
    // walk: every walk fault carries the entry's SRE, and resolve turns it into SPT.6 for such requests.
    if (mode === "scalable") {
      const tag = (v: OutcomeValue): OutcomeValue =>
        v.kind === "fault" ? { ...v, pasidEntry: { sre: st.sre, fpd: st.fpd } } : v;
      const plain = faults;
      const plainLeaves = leaves;
      faults = {
        push: (...ps: Permitted[]) => plain.push(...ps.map((p) => ({ ...p, value: tag(p.value) }))),
      } as Permitted[];
      leaves = {
        push: (...ps: Permitted[]) => plainLeaves.push(...ps.map((p) => ({ ...p, value: tag(p.value) }))),
      } as Permitted[];
    }
    const { cfg } = this.tl;
    const pre = inputCheck(st, this.page, cfg);
    if (pre !== null) {
      faults.push({ value: pre, explain: `${st.explain}; input 0x${this.page.toString(16)} rejected` });
      return;
    }
    const iotlbKey: CacheKey = {
      cls: "iotlb",
      did: st.did,
      pasid: st.pasidTag,
      stage: st.stage,
      page: this.page,
    };
    const leaf = (value: OutcomeValue, explain: string, vias: string[], used: Used = NO_USE) => {
      leaves.push({ value, explain, used });
      const cacheable =
        value.kind === "translation"
          ? value.rights.ssR || value.rights.ssW || !cfg.cm
            ? value.rights.ssR || value.rights.ssW
            : true
          : cfg.cm && st.stage !== "first" && st.stage !== "nested";
      if (cacheable)
        this.fill(iotlbKey, mode, valueId(value), { cls: "iotlb", value }, s, explain, vias, used);
    };
    if (st.stage === "pass-through") {
      leaf(translation(st, Number(this.page), 12, ALL_RIGHTS), `${st.explain} -> pass-through`, src);
      return;
    }
    if (st.stage === "nested") {
      const caches = this.nestedCaches(st, src, mode, s);
      for (const o of nestedOutcomes(mem, st, this.page, cfg, this.reads, this.markEntry, caches)) {
        if (o.value.kind !== "translation") {
          faults.push({ value: o.value, explain: o.explain });
          continue;
        }
        // [ORACLE-JUDGE-11] the entries the walk read from memory (at step s), those the fills of
        // the cached value it started from flagged above it, and no more than a way from a cached
        // value equal to one the walk passed through would have read.
        const usedFrom = (above: Used | undefined, keep: (e: EntryRead) => boolean): Used => {
          let u = above ?? NO_USE;
          for (const e of o.entriesRead ?? []) if (keep(e)) u = withUse(u, e.at, e.accessed, e.dirty, s);
          return u;
        };
        let used = usedFrom(o.above, () => true);
        for (const w of o.alsoFrom ?? [])
          used = intersectUsed(
            used,
            usedFrom(w.above, (e) => readBelow(e, w.level)),
          );
        leaf(o.value, o.explain, allOf(o.via ?? src, o.ssUsed ?? []), used);
      }
      return;
    }
    const adFault = adFaultCode(st);
    const pscStage = st.stage;
    // [ORACLE-JUDGE-11] each frontier with the entries every walk reaching it read from memory.
    let frontier: Array<{ f: Frontier; src: string[]; used: Used }> = [
      { f: rootFrontier(st), src, used: NO_USE },
    ];
    const flagStage = st.stage === "first" ? "first" : "second";
    const aBits = accessedBits(st, flagStage);
    for (let level = st.levels; level >= 1 && frontier.length > 0; level--) {
      const next = new Map<string, { f: Frontier; src: string[]; used: Used }>();
      for (const { f, src: via, used } of frontier) {
        const r = pagingStep(mem, st, f, this.page, cfg, this.reads);
        this.markStep(st, r);
        if (r.kind === "leaf") {
          const v = withAdFault(r.value, adFault, f.adNeed ?? false, flagsToSet(st, r.word, true));
          leaf(v, r.explain, via, withUse(used, r.at, aBits, dirtyBit(st, flagStage), s));
        } else if (r.kind === "fault") {
          if (cfg.cm && st.stage !== "first") leaf(r.fault, r.explain, via);
          else faults.push({ value: r.fault, explain: r.explain });
        } else {
          const key = this.pscKey(st, level, pscStage);
          const path = withUse(used, r.at, aBits, 0n, s);
          // [ORACLE-JUDGE-11] creating a first-stage paging-structure value sets A (EA) in the
          // entries above it (§6.2.5.1–§6.2.5.4); no such rule for second-stage values.
          const id = this.fill(
            key,
            mode,
            frontierId(r.next),
            { cls: "psc", next: r.next },
            s,
            r.next.explain,
            via,
            st.stage === "first" ? path : NO_USE,
          );
          // The fresh walk goes on from r.next; a flag to set above it may make it fault (PWSNP = 0).
          const nf = below(f, r, st);
          const have = next.get(frontierId(r.next));
          if (have === undefined) next.set(frontierId(r.next), { f: nf, src: [id], used: path });
          else {
            if (nf.adNeed && !have.f.adNeed) have.f = { ...have.f, adNeed: true };
            have.used = intersectUsed(have.used, path);
          }
        }
      }
      // [ORACLE-TIME-3] a walk may start below this level from any value its paging-structure cache may hold.
      if (level > 1) {
        const key = this.pscKey(st, level, pscStage);
        const kt = keyText(key);
        for (const [eid, e] of this.aliveIds(mode, (e) => e.payload.cls === "psc" && e.kt === kt)) {
          if (e.payload.cls !== "psc") continue;
          const id = frontierId(e.payload.next);
          const have = next.get(id);
          // [ORACLE-JUDGE-11] a walk from the cached value reads nothing above it from memory.
          if (have !== undefined) have.used = intersectUsed(have.used, e.used);
          else
            next.set(id, {
              f: {
                ...e.payload.next,
                explain: `${e.payload.next.explain} [${kt}, filled step ${e.since}..${fmt(lastFill(e))}]`,
              },
              src: [eid],
              used: e.used,
            });
        }
      }
      frontier = [...next.values()];
    }
  }

  /**
   * [ORACLE-WALK-7] What the caches may hold for this request's nested walks, and where its fills
   * go: (a) nested values keyed by the request's input region, holding the next first-stage table's
   * host-physical address; (b) second-stage values keyed by the guest-physical region of a
   * first-stage table or of the output.
   */
  private nestedCaches(st: Setup, src: string[], mode: TranslationMode, s: number): NestedCaches {
    const ssKey = (gpa: number, level: number): PscKey => {
      const shift = levelShift(level);
      const region = (BigInt(gpa) >> BigInt(shift)) << BigInt(shift);
      return { cls: "psc", did: st.did, pasid: st.pasidTag, stage: "second", level, region, shift };
    };
    const starts: NestedFrontier[] = [];
    for (let level = st.levels; level >= 2; level--) {
      const kt = keyText(this.pscKey(st, level, "nested"));
      for (const [eid, e] of this.aliveIds(mode, (e) => e.payload.cls === "nested" && e.kt === kt))
        if (e.payload.cls === "nested")
          starts.push({
            ...e.payload.next,
            via: [eid],
            above: e.used,
            explain: `${e.payload.next.explain} [${kt}, filled step ${e.since}..${fmt(lastFill(e))}]`,
          });
    }
    return {
      starts,
      ssStarts: (gpa) => {
        const out: CachedFrontier[] = [];
        for (let level = st.ssLevels; level >= 2; level--) {
          const kt = keyText(ssKey(gpa, level));
          for (const [eid, e] of this.aliveIds(mode, (e) => e.payload.cls === "psc" && e.kt === kt))
            if (e.payload.cls === "psc")
              out.push({
                ...e.payload.next,
                cacheId: eid,
                explain: `${e.payload.next.explain} [${kt}, filled step ${e.since}..${fmt(lastFill(e))}]`,
              });
        }
        return out;
      },
      ssFill: (gpa, level, next) => {
        this.fill(ssKey(gpa, level), mode, frontierId(next), { cls: "psc", next }, s, next.explain, src);
      },
      nestedFill: (level, next, via, ssUsed, path) => {
        let used = path.above ?? NO_USE;
        for (const e of path.read) used = withUse(used, e.at, e.accessed, e.dirty, s);
        return this.fill(
          this.pscKey(st, level, "nested"),
          mode,
          `${frontierId(next)}:${next.hpa}:${next.ssW}`,
          { cls: "nested", next },
          s,
          next.explain,
          allOf(via ?? src, ssUsed),
          used,
        );
      },
    };
  }

  private pscKey(st: Setup, level: number, stage: Setup["stage"]): CacheKey {
    const shift = levelShift(level);
    const region = (this.page >> BigInt(shift)) << BigInt(shift);
    return { cls: "psc", did: st.did, pasid: st.pasidTag, stage, level, region, shift };
  }
}

/**
 * [ORACLE-TIME-2] A fill that needed every value of `also` besides one of `vias`: each alternative
 * becomes the conjunction "via&id&id", alive while all its parts are.
 */
function allOf(vias: readonly string[], also: readonly string[]): string[] {
  if (also.length === 0) return [...vias];
  return vias.map((v) => [v, ...also].join("&"));
}

function sameRoot(a: RootPointer | undefined, b: RootPointer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.address === b.address && a.ttm === b.ttm);
}

function level(k: CacheKey): number {
  return k.cls === "psc" ? k.level : 0;
}

function fmt(t: number): string {
  return t === LIVE ? "now" : String(t);
}

function stepExplain<V extends { explain: string }>(s: Step<V>, tag: string): string {
  const text = s.ok ? s.value.explain : s.explain;
  return tag === "" ? text : `${text} [${tag}]`;
}

function ctxId<V extends { words: bigint[] }>(s: Step<V>): string {
  return s.ok
    ? `ok:${s.value.words.map((w) => hex(w)).join(":")}`
    : `fault:${s.fault.reason.read}:${s.fault.record}`;
}

function frontierId(f: Frontier): string {
  const r = f.rights;
  return `${f.level}:${f.table}:${+r.fsW}${+r.fsU}${+r.ssR}${+r.ssW}`;
}

/** Setups alike in every field but the explanation have the same key. */
function setupKey(s: Setup): string {
  // Every field but explain, by name: a field added to Setup must be added here.
  const fields: { [K in Exclude<keyof Setup, "explain">]-?: Setup[K] } = {
    stage: s.stage,
    scalable: s.scalable,
    did: s.did,
    pasidTag: s.pasidTag,
    fpd: s.fpd,
    root: s.root,
    levels: s.levels,
    ssWidth: s.ssWidth,
    ssRoot: s.ssRoot,
    ssLevels: s.ssLevels,
    wpe: s.wpe,
    sre: s.sre,
    eafe: s.eafe,
    ssade: s.ssade,
    pwsnp: s.pwsnp,
  };
  return Object.values(fields).join("/");
}
