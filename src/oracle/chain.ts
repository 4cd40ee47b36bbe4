/**
 * The may-cache timeline of one request shape (SID, PASID or none, input 4 KiB page)
 * [ORACLE-TIME-1..4]. It replays the steps since reset and keeps, for every cache key the
 * request's walks touch, the values a model could hold now: every value a walk could have filled
 * at some step t (fresh from memory at t, possibly through upper-level values themselves
 * permitted at t), unless an invalidation covering it, submitted after t, has completed.
 * Only steps that change a word the walks read, the root pointer or TE, or that complete an
 * invalidation, are re-walked; in between, the sets do not change.
 */

import { levelShift } from "../bits/paging-entry.ts";
import { hex } from "../bits/word.ts";
import type { TranslationMode } from "../platform/types.ts";
import { ScalableFault as S } from "../vtd/fault-reasons.ts";
import type { OracleConfig } from "./config.ts";
import type { Completion, Control } from "./control.ts";
import { covers } from "./coverage.ts";
import type { HistoryMemory, WordReader } from "./history-memory.ts";
import type { CacheKey } from "./keys.ts";
import { keyText } from "./keys.ts";
import { nestedOutcomes } from "./nested.ts";
import { type OutcomeValue, type Permitted, valueId } from "./outcome.ts";
import {
  ALL_RIGHTS,
  type Frontier,
  inputCheck,
  legacySetup,
  pagingStep,
  rootFrontier,
  type Setup,
  scalableSetup,
  translation,
} from "./paging.ts";
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
  /** Word addresses a step changed. */
  changes: Map<number, number[]>;
  completions: Map<number, Completion[]>;
  /** Steps that changed the root pointer or TE. */
  rootTe: Set<number>;
}

type Payload =
  | { cls: "context"; step: Step<ContextValue> }
  | { cls: "pasid"; step: Step<PasidValue> }
  | { cls: "psc"; next: Frontier }
  | { cls: "iotlb"; value: OutcomeValue };

interface Entry {
  key: CacheKey;
  mode: TranslationMode;
  payload: Payload;
  /** Step of the first fill (for explanations). */
  since: number;
  /** Last step at which it could have been filled; Infinity while it is fresh. */
  lastFill: number;
  explain: string;
}

const LIVE = Number.POSITIVE_INFINITY;

export class Chain {
  private upTo: number;
  private reads = new Set<number>();
  private readonly entries = new Map<string, Entry>();
  private current: Permitted[] = [];

  constructor(
    readonly sid: number,
    readonly pasid: number | undefined,
    readonly page: bigint,
    private readonly tl: Timeline,
  ) {
    this.upTo = tl.start - 1;
  }

  /** [ORACLE-TIME-1] The outcomes permitted at step `now` (steps are replayed up to it). */
  permitted(now: number): Permitted[] {
    for (let s = this.upTo + 1; s <= now; s++) {
      const comps = this.tl.completions.get(s) ?? [];
      for (const c of comps) this.kill(c);
      const changed = this.tl.changes.get(s);
      const dirty =
        s === this.tl.start ||
        comps.length > 0 ||
        this.tl.rootTe.has(s) ||
        (changed !== undefined && changed.some((a) => this.reads.has(a)));
      if (dirty) this.recompute(s);
    }
    this.upTo = Math.max(this.upTo, now);
    return this.current;
  }

  /** [ORACLE-TIME-2] A completed invalidation drops the values filled before its submission. */
  private kill(c: Completion): void {
    for (const [id, e] of this.entries) {
      if (e.lastFill < c.submit && e.mode === c.mode && covers(c.scope, e.key, c.mode))
        this.entries.delete(id);
      else if (e.mode !== c.mode && e.lastFill < c.submit) this.entries.delete(id); // [ORACLE-TIME-4]
    }
  }

  private fill(
    key: CacheKey,
    mode: TranslationMode,
    valId: string,
    payload: Payload,
    s: number,
    explain: string,
  ): void {
    const id = `${keyText(key)}|${valId}`;
    const e = this.entries.get(id);
    if (e !== undefined) e.lastFill = LIVE;
    else this.entries.set(id, { key, mode, payload, since: s, lastFill: LIVE, explain });
  }

  private alive(mode: TranslationMode, match: (e: Entry) => boolean): Entry[] {
    const out: Entry[] = [];
    for (const e of this.entries.values()) if (e.mode === mode && match(e)) out.push(e);
    return out;
  }

  /** [ORACLE-TIME-3] Re-walk at step s: fresh values fill the caches; the permitted set is rebuilt. */
  private recompute(s: number): void {
    const { cfg, control } = this.tl;
    for (const e of this.entries.values()) if (e.lastFill === LIVE) e.lastFill = s - 1;
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
    const seen = new Set<string>();
    const add = (value: OutcomeValue, explain: string) => {
      const id = valueId(value);
      if (seen.has(id)) return;
      seen.add(id);
      out.push({ value, explain });
    };
    const untranslated = (): Permitted => ({
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
    });
    if (rp.ttm === 2 || rp.ttm === 3) {
      // [ORACLE-WALK-6] reserved TTM and abort-DMA mode block every request.
      if (te)
        add(
          fault(rp.ttm === 3 ? S.RTA_4_ABORT_DMA_MODE : S.RTA_1_INVALID_RTADDR),
          `root pointer TTM=${rp.ttm}`,
        );
      this.current = te ? out : [untranslated()];
      return;
    }
    const mode: TranslationMode = rp.ttm === 1 ? "scalable" : "legacy";
    const faults: Permitted[] = [];
    const leaves: Permitted[] = [];
    const setups: Setup[] = [];

    if (mode === "legacy" && this.pasid !== undefined) {
      faults.push({
        value: fault(S.RTA_2_LEGACY_TTM_WITH_PASID),
        explain: "request with PASID in legacy mode",
      });
    } else {
      // Context level: fresh, plus what the context cache may hold for this SID.
      const fresh = walkContext(mem, rp, this.sid, cfg);
      const ctxs: Array<{ step: Step<ContextValue>; explain: string }> = [
        { step: fresh, explain: stepExplain(fresh, "fresh") },
      ];
      if (fresh.ok || cfg.cm) {
        const did = fresh.ok ? fresh.value.did : 0;
        this.fill(
          { cls: "context", mode, sid: this.sid, did },
          mode,
          ctxId(fresh),
          { cls: "context", step: fresh },
          s,
          stepExplain(fresh, ""),
        );
      }
      for (const e of this.alive(
        mode,
        (e) => e.payload.cls === "context" && e.key.cls === "context" && e.key.sid === this.sid,
      )) {
        if (e.payload.cls === "context" && ctxId(e.payload.step) !== ctxId(fresh))
          ctxs.push({
            step: e.payload.step,
            explain: `${e.explain} [context cache, filled step ${e.since}..${fmt(e.lastFill)}]`,
          });
      }
      for (const c of ctxs) {
        if (!c.step.ok) {
          faults.push({ value: c.step.fault, explain: c.explain });
          continue;
        }
        if (mode === "legacy") {
          setups.push(legacySetup(c.step.value, cfg));
          continue;
        }
        const ctx = c.step.value;
        const pfresh = walkPasid(mem, ctx, this.pasid, cfg);
        const ps: Array<{ step: Step<PasidValue>; explain: string }> = [
          { step: pfresh, explain: stepExplain(pfresh, "fresh") },
        ];
        const eff = effectivePasid(ctx, this.pasid);
        const cacheableFault =
          !pfresh.ok && cfg.cm && pfresh.fault.reason.read >= 0x50 && pfresh.fault.reason.read < 0x60;
        if (pfresh.ok || cacheableFault) {
          const did = pfresh.ok ? pfresh.value.did : 0;
          this.fill(
            { cls: "pasid", sid: this.sid, pasid: eff, did },
            mode,
            ctxId(pfresh),
            { cls: "pasid", step: pfresh },
            s,
            stepExplain(pfresh, ""),
          );
        }
        for (const e of this.alive(
          mode,
          (e) => e.key.cls === "pasid" && e.key.sid === this.sid && e.key.pasid === eff,
        )) {
          if (e.payload.cls === "pasid" && ctxId(e.payload.step) !== ctxId(pfresh))
            ps.push({
              step: e.payload.step,
              explain: `${e.explain} [PASID cache, filled step ${e.since}..${fmt(e.lastFill)}]`,
            });
        }
        for (const p of ps) {
          if (!p.step.ok) faults.push({ value: p.step.fault, explain: p.explain });
          else setups.push(scalableSetup(p.step.value, cfg));
        }
      }
    }

    const setupSeen = new Set<string>();
    for (const st of setups) {
      const sid = setupKey(st);
      if (setupSeen.has(sid)) continue;
      setupSeen.add(sid);
      this.walkSetup(st, mem, mode, s, faults, leaves);
    }

    // IOTLB: fresh leaves fill it; everything it may hold is permitted (looked up by SID and page).
    for (const l of leaves) add(l.value, l.explain);
    for (const f of faults) add(f.value, f.explain);
    for (const e of this.alive(mode, (e) => e.payload.cls === "iotlb")) {
      if (e.payload.cls === "iotlb")
        add(
          e.payload.value,
          `${e.explain} [IOTLB ${keyText(e.key)}, filled step ${e.since}..${fmt(e.lastFill)}]`,
        );
    }
    // [ORACLE-WALK-6] With TE = 0 requests are not translated (the caches may still fill).
    this.current = te ? out : [untranslated()];
  }

  private walkSetup(
    st: Setup,
    mem: WordReader,
    mode: TranslationMode,
    s: number,
    faults: Permitted[],
    leaves: Permitted[],
  ): void {
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
    const leaf = (value: OutcomeValue, explain: string) => {
      leaves.push({ value, explain });
      const cacheable =
        value.kind === "translation"
          ? value.rights.ssR || value.rights.ssW || !cfg.cm
            ? value.rights.ssR || value.rights.ssW
            : true
          : cfg.cm && st.stage !== "first" && st.stage !== "nested";
      if (cacheable) this.fill(iotlbKey, mode, valueId(value), { cls: "iotlb", value }, s, explain);
    };
    if (st.stage === "pass-through") {
      leaf(translation(st, Number(this.page), 12, ALL_RIGHTS), `${st.explain} -> pass-through`);
      return;
    }
    if (st.stage === "nested") {
      for (const o of nestedOutcomes(mem, st, this.page, cfg, this.reads)) {
        if (o.value.kind === "translation") leaf(o.value, o.explain);
        else faults.push(o);
      }
      return;
    }
    const adFault =
      !st.pwsnp && (st.stage === "first" || st.ssade)
        ? st.stage === "first"
          ? S.SFS_9_AD_NON_SNOOPED
          : S.SSS_5
        : undefined;
    const pscStage = st.stage;
    let frontier: Array<{ f: Frontier }> = [{ f: rootFrontier(st) }];
    for (let level = st.levels; level >= 1 && frontier.length > 0; level--) {
      const next = new Map<string, Frontier>();
      for (const { f } of frontier) {
        const r = pagingStep(mem, st, f, this.page, cfg, this.reads);
        if (r.kind === "leaf") {
          leaf(adFault === undefined ? r.value : { ...r.value, adFault }, r.explain);
        } else if (r.kind === "fault") {
          if (cfg.cm && st.stage !== "first") leaf(r.fault, r.explain);
          else faults.push({ value: r.fault, explain: r.explain });
        } else {
          const key = this.pscKey(st, level, pscStage);
          this.fill(key, mode, frontierId(r.next), { cls: "psc", next: r.next }, s, r.next.explain);
          next.set(frontierId(r.next), r.next);
        }
      }
      // [ORACLE-TIME-3] a walk may start below this level from any value its paging-structure cache may hold.
      if (level > 1) {
        const key = this.pscKey(st, level, pscStage);
        const kt = keyText(key);
        for (const e of this.alive(mode, (e) => e.payload.cls === "psc" && keyText(e.key) === kt)) {
          if (e.payload.cls !== "psc") continue;
          const id = frontierId(e.payload.next);
          if (!next.has(id))
            next.set(id, {
              ...e.payload.next,
              explain: `${e.payload.next.explain} [${kt}, filled step ${e.since}..${fmt(e.lastFill)}]`,
            });
        }
      }
      frontier = [...next.values()].map((f) => ({ f }));
    }
  }

  private pscKey(st: Setup, level: number, stage: Setup["stage"]): CacheKey {
    const shift = levelShift(level);
    const region = (this.page >> BigInt(shift)) << BigInt(shift);
    return { cls: "psc", did: st.did, pasid: st.pasidTag, stage, level, region, shift };
  }
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

function setupKey(s: Setup): string {
  return JSON.stringify({ ...s, explain: "" });
}
