/**
 * The permitted-outcome oracle [ORACLE-JUDGE-1..6]: an online judge of the platform-surface step
 * stream. It never looks inside a model; the same step list always yields the same verdicts.
 */

import { decodeFingerprint } from "../contract/fingerprint.ts";
import type { SurfaceStep } from "../contract/surface.ts";
import type { DmaRequest, DmaResult, PlatformConfig } from "../contract/types.ts";
import { faultReasonName } from "../spec/fault-reasons.ts";
import { decodeFaultRecord, type FaultRecord } from "../spec/fault-record.ts";
import { Reg } from "../spec/register-offsets.ts";
import { addEvent, Chain, type Timeline } from "./chain.ts";
import { oracleConfig, oracleConfigFromRegisters, ownCapabilities, sameOracleConfig } from "./config.ts";
import { type Completion, Control } from "./control.ts";
import { FaultEvent } from "./fault-event.ts";
import { FaultRecordReads } from "./fault-record-reads.ts";
import { FlagMarks } from "./flag-marks.ts";
import { HistoryMemory } from "./history-memory.ts";
import type { OutcomeValue, Permitted } from "./outcome.ts";
import { intersectRequired, NO_USE, type Required, RequiredFlags } from "./required-flags.ts";
import { type Resolved, resolve, resolvedText } from "./resolve.ts";
import type { DeviationContext, ResolvedFault, Tolerance } from "./tolerance.ts";

/** The surface calls the oracle judges: the platform's, but hostView. */
export const ORACLE_METHODS = ["reset", "writeGuest", "readGuest", "writeReg", "readReg", "dma"] as const;
export type OracleMethod = (typeof ORACLE_METHODS)[number];

export function isOracleMethod(op: string): op is OracleMethod {
  return (ORACLE_METHODS as readonly string[]).includes(op);
}

/** One observed platform-surface call with its result (the contract's decoded step). */
export type OracleStep = SurfaceStep<OracleMethod>;

export interface Violation {
  /** The rule broken (an id of spec/), when the judge can name one. */
  rule?: string;
  message: string;
  observed: string;
  permitted: string[];
}

export type OracleJudgement = { ok: true } | { ok: false; violation: Violation };

/** The outcomes permitted for one request now, each with what it means and why. */
export interface PermittedSet {
  /** value: the permitted value the outcome resolves (what relaxations vary, ORACLE-TOL-1). */
  outcomes: Array<{ outcome: Resolved; explain: string; value: OutcomeValue; required: Required }>;
  /** "permitted: ..." lines for reports. */
  text(): string[];
}

interface PendingWrite {
  step: number;
  candidates: number[];
  data: Uint8Array;
  /** Bytes at each candidate before the write (for telling "not here" from "here"). */
  old: Uint8Array[];
}

interface AbortedDma {
  step: number;
  req: DmaRequest;
  /** Permitted faults; `via` names the relaxation a deviant variant comes from [ORACLE-TOL-1]. */
  faults: Array<{ reason: number; record: string; via?: string }>;
}

/** An aborted DMA whose fault must be recorded; `excusedBy` a relaxation that lets it go unrecorded. */
interface MustRecord {
  step: number;
  /** The aborted request's source-id: its fault may be compressed into a record of that SID. */
  sid: number;
  excusedBy?: string;
}

const OK: OracleJudgement = { ok: true };

export class Oracle {
  private t = -1;
  private tl!: Timeline;
  private chains = new Map<string, Chain>();
  private pendingWrites: PendingWrite[] = [];
  private aborted: AbortedDma[] = [];
  private records = new FaultRecordReads();
  private config!: PlatformConfig;
  /** [ORACLE-CAP-1] 32-bit halves of CAP and ECAP the model was seen to return, by offset. */
  private capWords = new Map<number, bigint>();
  /** CAP and ECAP the configuration was last learnt from. */
  private learnedFrom: { cap: bigint | undefined; ecap: bigint | undefined } | undefined;
  /** What the reference would report for the configuration (computed when first needed). */
  private ownCaps: ReturnType<typeof ownCapabilities> | undefined;
  /** [ORACLE-JUDGE-8] Aborted DMAs whose fault must leave a trace in FSTS, since the last clear. */
  private mustRecord: MustRecord[] = [];
  /**
   * [ORACLE-JUDGE-8] Fault records the driver read whole with F = 1 since each was last cleared,
   * by index: the SID they hold (hardware never overwrites a pending record, §7.2.1).
   */
  private occupied = new Map<number, number>();
  /** [ORACLE-JUDGE-10] What FECTL may show. */
  private readonly event = new FaultEvent();
  /** [ORACLE-JUDGE-11] Flags DMAs' walks must have set, required at guest reads. */
  private flagsRequired = new RequiredFlags();

  /** tolerance: known deviations judged with their relaxations [ORACLE-TOL-1]; none by default. */
  constructor(
    config: PlatformConfig,
    private readonly tolerance?: Tolerance,
  ) {
    this.reset(config);
  }

  /** Judge one observed step (and learn from it). */
  observe(step: OracleStep): OracleJudgement {
    this.t++;
    switch (step.op) {
      case "reset":
        this.reset(step.args[0]);
        return OK;
      case "writeGuest": {
        const [gpa, bytes] = step.args;
        this.memWrite(Number(gpa), bytes, true);
        return OK;
      }
      case "readGuest":
        return this.onReadGuest(Number(step.args[0]), step.result);
      case "writeReg": {
        const [off, value, width] = step.args;
        const iqeBefore = this.tl.control.iqePermitted;
        if (this.tl.control.writeReg(this.t, off, value, width)) addEvent(this.tl, this.t);
        this.clearRecords(off, value, width);
        this.eventWrite(off, value, width, iqeBefore);
        return OK;
      }
      case "readReg":
        return this.onReadReg(step.args[0], step.args[1], step.result);
      case "dma":
        return this.onDma(step.args[0], step.result);
    }
  }

  /** [ORACLE-JUDGE-6] The permitted outcomes of a request if it were issued now. */
  permittedFor(req: DmaRequest): PermittedSet {
    const now = Math.max(this.t, this.tl.start);
    const chain = this.chainFor(req);
    const perms = [...chain.permitted(now)];
    // [ORACLE-KEY-4] IOTLB values the same requester filled with or without PASID under a DID and
    // PASID tag this request uses (never another source-id's: Table 17 looks the IOTLB up by it).
    if (this.tl.control.teHistory.at(-1)?.te === true)
      for (const other of this.chains.values()) {
        if (other === chain || other.page !== chain.page || other.sid !== chain.sid) continue;
        other.permitted(now);
        for (const v of other.iotlbValues())
          if (chain.lookupTags.has(v.tag)) perms.push({ value: v.value, explain: v.explain, used: v.used });
      }
    // [ORACLE-SCOPE-1] Walks from paging-structure values filled through other SIDs under the same tags.
    if (this.tl.control.teHistory.at(-1)?.te === true) {
      const shared: ReturnType<Chain["pscValues"]> = [];
      for (const other of this.chains.values()) {
        // Chains of the same SID and PASID fill what this one fills (speculative fills, same entries).
        if (other.sid === chain.sid && other.pasid === chain.pasid) continue;
        other.permitted(now);
        shared.push(...other.pscValues());
      }
      if (shared.length > 0) perms.push(...chain.walkShared(now, shared));
    }
    const access = { write: req.write, priv: req.priv ?? false, offset: Number(req.iova & 0xfffn) };
    const outcomes: PermittedSet["outcomes"] = [];
    const seen = new Map<string, PermittedSet["outcomes"][number]>();
    for (const p of perms) {
      // [ORACLE-JUDGE-11] the flags this way of reaching the outcome set and software has not rewritten.
      const required = this.requiredOf(p, req.write);
      for (const r0 of resolve(p.value, access)) {
        // [ORACLE-JUDGE-2] an output outside guest memory completes as an unsupported request (VTD-DMA-5).
        const r: Resolved =
          r0.kind === "ok" && r0.addr + req.len > this.tl.mem.size
            ? { kind: "fault", reason: 0, record: "no" }
            : r0;
        const id = JSON.stringify(r);
        const had = seen.get(id);
        if (had !== undefined) {
          had.required = intersectRequired(had.required, required);
          continue;
        }
        const o = { outcome: r, explain: p.explain, value: p.value, required };
        seen.set(id, o);
        outcomes.push(o);
      }
    }
    return {
      outcomes,
      text: () => outcomes.map((o) => `${describe(o.outcome, this.tl.mem)} — ${o.explain}`),
    };
  }

  /**
   * [ORACLE-JUDGE-11] The flags a way of reaching an outcome set: those of the entries it read from
   * memory that software has not written since, nor a DMA write may have reached.
   */
  private requiredOf(p: Permitted, write: boolean): Required {
    const req = this.flagsRequired.requiredOf(p.used ?? NO_USE, write);
    if (req.size === 0 || this.pendingWrites.length === 0) return req;
    const out = new Map(req);
    for (const w of this.pendingWrites)
      for (const c of w.candidates)
        for (const at of req.keys()) if (at + 8 > c && at < c + w.data.length) out.delete(at);
    return out;
  }

  /** Invalidations submitted whose completion the oracle has not observed. */
  get outstandingInvalidations(): number {
    return this.tl.control.outstanding;
  }

  /** Writes whose landing place has not been observed yet (the harness should read their candidates). */
  get unresolvedWrites(): Array<{ step: number; candidates: number[] }> {
    return this.pendingWrites.map((w) => ({ step: w.step, candidates: w.candidates }));
  }

  private reset(config: PlatformConfig): void {
    this.config = config;
    this.capWords = new Map();
    this.learnedFrom = undefined;
    this.ownCaps = undefined;
    const cfg = oracleConfig(config);
    const mem = new HistoryMemory(cfg.memSize);
    const start = Math.max(this.t, 0);
    this.tl = {
      cfg,
      mem,
      control: new Control(cfg, mem, start),
      start,
      completions: new Map(),
      events: [],
      flags: new FlagMarks(),
    };
    this.chains = new Map();
    this.pendingWrites = [];
    this.aborted = [];
    this.records.reset();
    this.mustRecord = [];
    this.occupied.clear();
    this.event.reset();
    this.flagsRequired = new RequiredFlags();
  }

  /** `written`: software or a DMA wrote it (not a guest read the shadow absorbs) [ORACLE-JUDGE-11]. */
  private memWrite(gpa: number, bytes: Uint8Array, written: boolean): void {
    this.tl.mem.write(this.t, gpa, bytes); // chains find the changes in the memory's history
    if (written) this.flagsRequired.wrote(this.t, gpa, bytes.length);
  }

  private addCompletions(comps: Completion[]): void {
    if (comps.length === 0) return;
    this.tl.completions.set(this.t, [...(this.tl.completions.get(this.t) ?? []), ...comps]);
    addEvent(this.tl, this.t);
  }

  private chainFor(req: DmaRequest): Chain {
    const page = req.iova & ~0xfffn & ((1n << 64n) - 1n);
    const id = `${req.sid}/${req.pasid ?? "-"}/${page}`;
    let c = this.chains.get(id);
    if (c === undefined) {
      c = new Chain(req.sid, req.pasid, page, this.tl);
      this.chains.set(id, c);
    }
    return c;
  }

  /** [ORACLE-JUDGE-2] [ORACLE-JUDGE-3] A DMA: its outcome must be one of the permitted ones. */
  private onDma(req: DmaRequest, result: DmaResult): OracleJudgement {
    const set = this.permittedFor(req);
    const lines = () => set.text(); // for reports only: made when a step is judged wrong
    const variants = this.deviantOutcomes(req, set);
    if (result.status === "aborted") {
      const faults = set.outcomes
        .filter((o) => o.outcome.kind === "fault")
        .map((o) => o.outcome as ResolvedFault);
      const deviant = variants.filter((v) => v.outcome.kind === "fault");
      if (faults.length === 0 && deviant.length === 0)
        return bad(
          "ORACLE-JUDGE-3",
          "the DMA was aborted, but only completions are permitted",
          "aborted",
          lines,
        );
      if (faults.length === 0) this.tolerance?.tolerated((deviant[0] as { via: string }).via);
      this.aborted.push({
        step: this.t,
        req,
        faults: [
          ...faults.map((f) => ({ reason: f.reason, record: f.record })),
          ...deviant.map((v) => ({ ...(v.outcome as ResolvedFault), via: v.via })),
        ],
      });
      const required = faults.length > 0 ? faults : deviant.map((v) => v.outcome as ResolvedFault);
      let must = false;
      if (required.every((f) => f.record === "yes")) {
        const excusedBy = this.unrecordedBy(req, required);
        this.mustRecord.push({
          step: this.t,
          sid: req.sid,
          ...(excusedBy === undefined ? {} : { excusedBy }),
        });
        must = excusedBy === undefined;
      }
      // [ORACLE-JUDGE-10] a fault that is (or may be) recorded is (or may be) an interrupt condition.
      if (
        must ||
        [...faults, ...deviant.map((v) => v.outcome as ResolvedFault)].some((f) => f.record !== "no")
      )
        this.event.condition(this.t, must);
      return OK;
    }
    let oks = set.outcomes
      .filter((o) => o.outcome.kind === "ok")
      .map((o) => (o.outcome as { addr: number }).addr);
    if (oks.length === 0) {
      const deviant = variants.filter((v) => v.outcome.kind === "ok");
      if (deviant.length === 0)
        return bad("ORACLE-JUDGE-1", "the DMA completed, but only faults are permitted", "completed", lines);
      this.tolerance?.tolerated((deviant[0] as { via: string }).via);
      oks = deviant.map((v) => (v.outcome as { addr: number }).addr);
    }
    const strict = set.outcomes.filter((o) => o.outcome.kind === "ok");
    if (!req.write) {
      const data = result.data ?? new Uint8Array(0);
      const pages = oks.filter((a) => this.readMatches(a, data));
      // [ORACLE-JUDGE-11] a read of a table page shows the flags earlier DMAs' walks must have set.
      const shown = pages.filter((a) => this.flagsRequired.missing(a, data) === undefined);
      if (shown.length > 0) {
        this.requireFlags(strict.filter((o) => shown.includes((o.outcome as { addr: number }).addr)));
        return OK;
      }
      const miss = pages.length > 0 ? this.flagsRequired.missing(pages[0] as number, data) : undefined;
      if (miss !== undefined) {
        const at = pages[0] as number;
        return bad(
          "ORACLE-JUDGE-11",
          `the DMA read of 0x${at.toString(16)} shows the paging entry at 0x${miss.at.toString(16)} without flags the walk of the DMA at step ${miss.step} must have set`,
          wordShown(at, data, miss.at),
          [`bits 0x${miss.bits.toString(16)} set (A, EA with EAFE; D in the leaf after a write)`],
        );
      }
      const fp = decodeFingerprint(data, Number(req.iova & 0xfffn));
      const where = fp
        ? `data fingerprinted as GPA 0x${fp.gpa.toString(16)} (tag ${fp.tag})`
        : "data with no fingerprint";
      return bad("ORACLE-JUDGE-2", "the DMA read returned data from no permitted page", where, lines);
    }
    this.completedWrite(req, strict, oks);
    return OK;
  }

  /**
   * A completed write: D in its page's leaves (ORACLE-JUDGE-9), the flags of the translations
   * `matching` required (ORACLE-JUDGE-11), and the data at its landing place, or pending until
   * a guest read shows where among `landing` it went (ORACLE-JUDGE-4).
   */
  private completedWrite(req: DmaRequest, matching: PermittedSet["outcomes"], landing: number[]): void {
    // [ORACLE-JUDGE-9] a completed write may set D in the leaves of walks of its page.
    for (const c of this.chains.values()) if (c.page === this.chainFor(req).page) c.noteWrite();
    this.requireFlags(matching);
    const data = req.data ?? new Uint8Array(req.len);
    const candidates = [...new Set(landing)];
    if (candidates.length === 1) this.memWrite(candidates[0] as number, data, true);
    else {
      const old = candidates.map((a) => this.tl.mem.read(a, data.length));
      this.pendingWrites.push({ step: this.t, candidates, data, old });
      for (const c of candidates) this.flagsRequired.wrote(this.t, c, data.length);
    }
  }

  /**
   * [ORACLE-JUDGE-7] A DMA another judge ruled on, taken as a step of the stream: a passed-through
   * device's, which reaches memory through the VM's stage 2 (VMM-S2-7), not the vIOMMU. The host's
   * nested walk reads the guest's first-stage tables as the vIOMMU's walk would, so the oracle
   * learns from it as from a DMA it judged: the flags its walk may set (ORACLE-JUDGE-9) and, once
   * it completed, must have set (ORACLE-JUDGE-11), and where a write landed (ORACLE-JUDGE-4).
   * `reached`: the output addresses the other judge found it may have reached (a read: the page
   * its data came from; a write: every place it may have landed). Nothing is judged here.
   */
  learnDma(req: DmaRequest, result: DmaResult, reached: readonly number[]): void {
    this.t++;
    const set = this.permittedFor(req); // its walks mark the entries they use [ORACLE-JUDGE-9]
    if (result.status === "aborted" || reached.length === 0) return;
    const matching = set.outcomes.filter((o) => o.outcome.kind === "ok" && reached.includes(o.outcome.addr));
    if (req.write) this.completedWrite(req, matching, [...reached]);
    else this.requireFlags(matching);
  }

  /**
   * [ORACLE-JUDGE-11] A completed DMA the permitted translations `matching` explain (every one the
   * observation allows): the flags all of them set are required from now on. None when a
   * relaxation explained it instead (`matching` empty).
   */
  private requireFlags(matching: PermittedSet["outcomes"]): void {
    if (matching.length === 0) return;
    let req = (matching[0] as PermittedSet["outcomes"][number]).required;
    for (const o of matching.slice(1)) req = intersectRequired(req, o.required);
    this.flagsRequired.require(this.t, req);
  }

  /** [ORACLE-TOL-1] The deviant variants of the permitted outcomes, each with its relaxation. */
  private deviantOutcomes(req: DmaRequest, set: PermittedSet): Array<{ outcome: Resolved; via: string }> {
    const relaxations = this.tolerance?.relaxations.filter((r) => r.outcome !== undefined) ?? [];
    if (relaxations.length === 0) return [];
    const out: Array<{ outcome: Resolved; via: string }> = [];
    const strict = new Set(set.outcomes.map((o) => JSON.stringify(o.outcome)));
    for (const o of set.outcomes)
      for (const r of relaxations)
        for (const v of r.outcome?.(req, o.value, o.outcome, this.deviationContext) ?? [])
          if (!strict.has(JSON.stringify(v))) out.push({ outcome: v, via: r.id });
    return out;
  }

  /**
   * [ORACLE-TOL-1] The relaxation that lets one of these permitted faults go unrecorded: the model
   * may have met that one (a stale or a fresh entry) and left it unrecorded.
   */
  private unrecordedBy(req: DmaRequest, faults: ResolvedFault[]): string | undefined {
    for (const r of this.tolerance?.relaxations ?? [])
      if (r.unrecorded !== undefined && faults.some((f) => r.unrecorded?.(req, f, this.deviationContext)))
        return r.id;
    return undefined;
  }

  /**
   * [ORACLE-TOL-1] The aborted DMA a record reports: strictly first; then a deviant fault of a DMA
   * (via its relaxation); then the conforming records a deviant one stands for, each relaxation
   * putting right its own field (so two deviations in one record are each named).
   */
  private recordMatch(
    r: FaultRecord,
    matches: (rec: FaultRecord, via?: string) => AbortedDma | undefined,
  ): { match?: AbortedDma; via: string[] } {
    const strict = matches(r);
    if (strict !== undefined) return { match: strict, via: [] };
    const relaxations = this.tolerance?.relaxations.filter((x) => x.record !== undefined) ?? [];
    const deviantFaults = new Set(this.aborted.flatMap((d) => d.faults.flatMap((f) => f.via ?? [])));
    // Records reachable by putting right one field after another, with the relaxations used.
    let layer: Array<{ rec: FaultRecord; via: string[] }> = [{ rec: r, via: [] }];
    for (let round = 0; round <= relaxations.length && layer.length > 0; round++) {
      for (const { rec, via } of layer) {
        if (round > 0) {
          const match = matches(rec);
          if (match !== undefined) return { match, via };
        }
        for (const f of deviantFaults) {
          const match = matches(rec, f);
          if (match !== undefined) return { match, via: [...via, f] };
        }
      }
      layer = layer.flatMap(({ rec, via }) =>
        relaxations
          .filter((x) => !via.includes(x.id))
          .flatMap((x) =>
            (x.record?.(rec, this.deviationContext) ?? []).map((c) => ({ rec: c, via: [...via, x.id] })),
          ),
      );
    }
    return { via: [] };
  }

  private get deviationContext(): DeviationContext {
    const mem = this.tl.mem;
    return {
      cfg: this.tl.cfg,
      root: this.tl.control.rootHistory.at(-1)?.rp,
      read: (gpa, len) => mem.read(gpa, len),
    };
  }

  /**
   * Data a read returned equals memory at addr, allowing bytes of unresolved writes there and
   * A/D/EA bits the model's walks set in entries the read covers (a walk may set them in its own
   * tables just before the read, so a read of a table page sees them). [ORACLE-JUDGE-2]
   */
  private readMatches(addr: number, data: Uint8Array): boolean {
    const cur = this.tl.mem.read(addr, data.length);
    for (let i = 0; i < data.length; i++) {
      if (cur[i] === data[i]) continue;
      if (this.pendingByte(addr + i, data[i] as number)) continue;
      const a = addr + i;
      const shift = BigInt((a % 8) * 8);
      const diff = BigInt((cur[i] as number) ^ (data[i] as number)) << shift;
      const set = BigInt(data[i] as number) << shift;
      // [ORACLE-JUDGE-9] walks only ever set flags, and only those of entries they used.
      if ((diff & ~this.tl.flags.allowed(a - (a % 8))) === 0n && (set & diff) === diff) continue;
      return false;
    }
    return true;
  }

  private pendingByte(a: number, v: number): boolean {
    for (const w of this.pendingWrites)
      for (const c of w.candidates) if (a >= c && a < c + w.data.length && w.data[a - c] === v) return true;
    return false;
  }

  /** [ORACLE-JUDGE-4] Guest memory read back: completions, landed writes, and unexplained changes. */
  private onReadGuest(gpa: number, bytes: Uint8Array): OracleJudgement {
    const comps = this.tl.control.readGuest(this.t, gpa, bytes);
    this.addCompletions(comps);
    let verdict: OracleJudgement = OK;
    // Resolve pending writes whose candidates this read covers entirely.
    for (const w of [...this.pendingWrites]) {
      let landed = -1;
      const remaining: number[] = [];
      w.candidates.forEach((c, i) => {
        if (c < gpa || c + w.data.length > gpa + bytes.length) {
          remaining.push(c);
          return;
        }
        const seen = bytes.subarray(c - gpa, c - gpa + w.data.length);
        if (equal(seen, w.data)) landed = c;
        else if (!equal(seen, w.old[i] as Uint8Array)) remaining.push(c); // partly changed: decide later
      });
      if (landed >= 0) {
        this.pendingWrites.splice(this.pendingWrites.indexOf(w), 1);
        this.memWrite(landed, w.data, true);
      } else if (remaining.length === 0) {
        this.pendingWrites.splice(this.pendingWrites.indexOf(w), 1);
        verdict = bad(
          "ORACLE-JUDGE-4",
          `the DMA write of step ${w.step} landed at none of its permitted places`,
          "unchanged at every candidate",
          w.candidates.map((c) => `write at 0x${c.toString(16)}`),
        );
      } else {
        w.old = w.old.filter((_o, i) => remaining.includes(w.candidates[i] as number));
        w.candidates = remaining;
      }
    }
    // Any other difference from the shadow must be a model's own legitimate write.
    const cur = this.tl.mem.read(gpa, bytes.length);
    for (let i = 0; i < bytes.length && verdict.ok; i++) {
      if (cur[i] === bytes[i]) continue;
      const a = gpa + i;
      if (this.pendingByte(a, bytes[i] as number)) continue;
      const wa = a - (a % 8);
      const diff = (BigInt(cur[i] as number) ^ BigInt(bytes[i] as number)) << BigInt((a - wa) * 8);
      const set = BigInt(bytes[i] as number) << BigInt((a - wa) * 8);
      // [ORACLE-JUDGE-9] A/EA/D flags the model's walks may set (never clear) in entries they used.
      if ((diff & ~this.tl.flags.allowed(wa)) === 0n && (set & diff) === diff) continue;
      if (comps.length > 0 || this.isStatus(a)) continue; // wait-descriptor status writes
      verdict = bad(
        "ORACLE-JUDGE-4",
        `guest memory at 0x${a.toString(16)} changed without a permitted cause`,
        `byte 0x${(bytes[i] as number).toString(16)}`,
        [`byte 0x${(cur[i] as number).toString(16)} (as written by the harness or a resolved DMA write)`],
      );
    }
    // [ORACLE-JUDGE-11] flags a DMA's walk must have set, in a word software has not written since.
    const miss = verdict.ok ? this.flagsRequired.missing(gpa, bytes) : undefined;
    if (miss !== undefined) {
      const shown = wordShown(gpa, bytes, miss.at);
      verdict = bad(
        "ORACLE-JUDGE-11",
        `the paging entry at 0x${miss.at.toString(16)} lacks flags the walk of the DMA at step ${miss.step} must have set`,
        shown,
        [`bits 0x${miss.bits.toString(16)} set (A, EA with EAFE; D in the leaf after a write)`],
      );
    }
    this.memWrite(gpa, bytes, false); // the shadow follows what the guest sees
    return verdict;
  }

  private isStatus(a: number): boolean {
    return this.tl.control.isStatusByte(a);
  }

  /** [ORACLE-JUDGE-5] Register reads: invalidation completion and fault records. */
  private onReadReg(off: number, width: 4 | 8, value: bigint): OracleJudgement {
    this.learnCapabilities(off, width, value);
    if (off === Reg.FSTS) {
      const v = this.faultStatus(value);
      if (!v.ok) return v;
      this.event.statusRead(value & 0xffff_ffffn);
    }
    const fectl = dwordAt(Reg.FECTL, off, width, value);
    if (fectl !== undefined) {
      const v = this.event.read(fectl);
      // [ORACLE-TOL-1] IP kept after the records were cleared, where a relaxation allows it.
      const keeps = v?.keptIp ? this.tolerance?.relaxations.find((r) => r.keepsFaultEventIp) : undefined;
      if (keeps !== undefined) {
        this.tolerance?.tolerated(keeps.id);
        this.event.acceptKeptIp();
      } else if (v !== undefined) return bad("ORACLE-JUDGE-10", v.message, v.observed, v.permitted);
    }
    this.addCompletions(this.tl.control.readReg(this.t, off, width, value));
    const { frcdOffset, faultRecords } = this.tl.cfg;
    if (off < frcdOffset || off >= frcdOffset + 16 * faultRecords) return OK;
    const index = Math.floor((off - frcdOffset) / 16);
    // 64- or 32-bit reads: judged once all of the record is known [ORACLE-JUDGE-5].
    const whole = this.records.read(index, (off - frcdOffset) % 16, width, value);
    if (whole === undefined) return OK;
    const r = decodeFaultRecord(whole.lo, whole.hi);
    if (r.f) this.occupied.set(index, r.sid);
    else this.occupied.delete(index);
    // [ORACLE-JUDGE-5] the whole record read: it must be one of an aborted DMA (same SID,
    // PASID, access type, page), with a permitted recorded reason. FI holds the page address
    // below the largest input width (VTD-FAULT-5).
    const { mgaw, fsts, fs5lp } = this.tl.cfg;
    const fiBits = Math.max(mgaw, fsts ? (fs5lp ? 57 : 48) : 0);
    const pageOf = (d: AbortedDma) => d.req.iova & ~0xfffn & ((1n << BigInt(fiBits)) - 1n);
    const same = (d: AbortedDma, rec: FaultRecord = r) =>
      d.req.sid === rec.sid &&
      // Without ECAP.PASID, PP, PV, EXE and PRIV are RsvdZ (VTD-FAULT-5, §11.4.7.6).
      (this.tl.cfg.pasidBits === 0
        ? !rec.pp && rec.pv === 0 && !rec.exe && !rec.priv
        : d.req.pasid === (rec.pp ? rec.pv : undefined)) &&
      d.req.write === !rec.t1;
    const matches = (rec: FaultRecord, via?: string) =>
      this.aborted.find(
        (d) =>
          same(d, rec) &&
          pageOf(d) === rec.fi &&
          d.faults.some((f) => f.reason === rec.fr && f.record !== "no" && f.via === via),
      );
    const { match, via } = this.recordMatch(r, matches);
    if (match !== undefined) {
      for (const id of via) this.tolerance?.tolerated(id);
      this.aborted.splice(this.aborted.indexOf(match), 1);
      return OK;
    }
    const described = `sid 0x${r.sid.toString(16)} reason ${faultReasonName(r.fr)} ${r.t1 ? "read" : "write"}${r.pp ? ` pasid ${r.pv}` : ""}${!r.pp && r.pv !== 0 ? ` PP 0 PV 0x${r.pv.toString(16)}` : ""} FI 0x${r.fi.toString(16)}`;
    return bad(
      "ORACLE-JUDGE-5",
      `fault record ${index} matches no aborted DMA's permitted recorded faults`,
      described,
      this.aborted
        .filter((d) => same(d))
        .map(
          (d) =>
            `step ${d.step}: sid 0x${d.req.sid.toString(16)} ${d.req.write ? "write" : "read"} FI 0x${pageOf(d).toString(16)}: ${d.faults
              .filter((f) => f.record !== "no")
              .map((f) => faultReasonName(f.reason))
              .join(" | ")}`,
        ),
    );
  }

  /**
   * [ORACLE-CAP-1] The capabilities are the ones the model reports: once the driver has read CAP
   * or ECAP, the oracle judges by those values instead of the reference's for the configuration.
   * Chains are rebuilt from the timeline under the new capabilities (they are normally read
   * before anything else happens).
   */
  private learnCapabilities(off: number, width: 4 | 8, value: bigint): void {
    const words: Array<[number, bigint]> =
      width === 8
        ? [
            [off, value & 0xffff_ffffn],
            [off + 4, (value >> 32n) & 0xffff_ffffn],
          ]
        : [[off, value & 0xffff_ffffn]];
    let touched = false;
    for (const [o, v] of words)
      if (o >= Reg.CAP && o < Reg.ECAP + 8) {
        this.capWords.set(o, v);
        touched = true;
      }
    if (!touched) return;
    const reg = (base: number): bigint | undefined => {
      const lo = this.capWords.get(base);
      const hi = this.capWords.get(base + 4);
      return lo === undefined || hi === undefined ? undefined : lo | (hi << 32n);
    };
    const cap = reg(Reg.CAP);
    const ecap = reg(Reg.ECAP);
    // The configuration follows from (config, CAP, ECAP) alone: the same pair again changes nothing.
    const learned = this.learnedFrom;
    if (learned !== undefined && learned.cap === cap && learned.ecap === ecap) return;
    this.learnedFrom = { cap, ecap };
    this.ownCaps ??= ownCapabilities(this.config);
    const next = oracleConfigFromRegisters(
      this.config,
      {
        ...(cap === undefined ? {} : { cap }),
        ...(ecap === undefined ? {} : { ecap }),
      },
      this.ownCaps,
    );
    if (sameOracleConfig(next, this.tl.cfg)) return;
    Object.assign(this.tl.cfg, next); // Control and the chains share this object
    this.chains = new Map();
  }

  /**
   * [ORACLE-CTL-5] IQE only after an invalid descriptor; [ORACLE-JUDGE-8] a fault that had to be
   * recorded leaves PPF (its record, or the pending record it was compressed into) or PFO set
   * until software clears a record or PFO.
   */
  private faultStatus(value: bigint): OracleJudgement {
    if ((value & 0x10n) !== 0n && !this.tl.control.iqePermitted)
      return bad(
        "ORACLE-CTL-5",
        "FSTS.IQE is set, but every descriptor the queue fetched since IQE was last cleared is valid",
        `FSTS 0x${value.toString(16)}`,
        ["IQE = 0 (VTD-QI-5, VTD-QI-10, VTD-QI-12)"],
      );
    const unexcused = this.mustRecord.find((m) => m.excusedBy === undefined);
    if ((value & 0x3n) === 0n && unexcused !== undefined)
      return bad(
        "ORACLE-JUDGE-8",
        `the fault of the DMA at step ${unexcused.step} must be recorded, but FSTS shows neither a pending record (PPF) nor an overflow (PFO)`,
        `FSTS 0x${value.toString(16)}`,
        ["PPF = 1 (recorded, or compressed into a pending record)", "PFO = 1 (dropped on overflow)"],
      );
    if ((value & 0x3n) === 0n && this.mustRecord.length > 0) {
      // [ORACLE-TOL-1] every fault still unrecorded is one a relaxation lets go unrecorded.
      for (const m of this.mustRecord) this.tolerance?.tolerated(m.excusedBy as string);
      this.mustRecord = [];
    }
    return OK;
  }

  /**
   * [ORACLE-JUDGE-10] FECTL writes set IM; write-1-to-clear writes of FSTS or of a record's F may
   * service every condition; the queue stopping at an invalid descriptor may set IQE.
   */
  private eventWrite(off: number, value: bigint, width: 4 | 8, iqeBefore: boolean): void {
    const fectl = dwordAt(Reg.FECTL, off, width, value);
    if (fectl !== undefined) this.event.write(fectl);
    const fsts = dwordAt(Reg.FSTS, off, width, value) ?? 0n;
    const { frcdOffset, faultRecords } = this.tl.cfg;
    const rel = off >= frcdOffset && off < frcdOffset + 16 * faultRecords ? (off - frcdOffset) % 16 : -1;
    const fBit = (rel === 8 && width === 8 && (value >> 63n) & 1n) || (rel === 12 && (value >> 31n) & 1n);
    if ((fsts & 0x71n) !== 0n) this.event.cleared("fsts");
    else if (fBit) this.event.cleared("record");
    if (this.tl.control.iqePermitted && (!iqeBefore || (fsts & 0x10n) !== 0n))
      this.event.condition(this.t, false);
  }

  /** Writing F = 1 to a fault record clears it: forget what was matched there. */
  private clearRecords(off: number, value: bigint, width: 4 | 8): void {
    const { frcdOffset, faultRecords } = this.tl.cfg;
    if (off === Reg.FSTS && (value & 1n) !== 0n) this.mustRecord = []; // PFO cleared
    if (off < frcdOffset || off >= frcdOffset + 16 * faultRecords) return;
    const rel = (off - frcdOffset) % 16;
    const fBit = (rel === 8 && width === 8 && (value >> 63n) & 1n) || (rel === 12 && (value >> 31n) & 1n);
    if (fBit) {
      const index = Math.floor((off - frcdOffset) / 16);
      this.records.clear(index);
      // [ORACLE-JUDGE-8] the cleared record may have been the one, unless it was read pending
      // with another SID: then it held that fault before and after (§7.2.1).
      const other = this.occupied.get(index);
      this.occupied.delete(index);
      this.mustRecord = other === undefined ? [] : this.mustRecord.filter((m) => m.sid !== other);
    }
  }
}

/** The 32-bit register at `reg` within an access of `width` bytes at `off`, if it covers it. */
function dwordAt(reg: number, off: number, width: 4 | 8, value: bigint): bigint | undefined {
  if (off === reg) return value & 0xffff_ffffn;
  if (width === 8 && off + 4 === reg) return (value >> 32n) & 0xffff_ffffn;
  return undefined;
}

/** The bytes of the word at `at` a read of [gpa, gpa + bytes.length) showed, for reports. */
function wordShown(gpa: number, bytes: Uint8Array, at: number): string {
  let v = 0n;
  for (let b = 7; b >= 0; b--) {
    const i = at + b - gpa;
    v = (v << 8n) | BigInt(i >= 0 && i < bytes.length ? (bytes[i] as number) : 0);
  }
  return `word 0x${v.toString(16)} at 0x${at.toString(16)}`;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function bad(
  rule: string,
  message: string,
  observed: string,
  permitted: string[] | (() => string[]),
): OracleJudgement {
  return {
    ok: false,
    violation: {
      rule,
      message,
      observed,
      permitted: typeof permitted === "function" ? permitted() : permitted,
    },
  };
}

function describe(r: Resolved, mem: HistoryMemory): string {
  if (r.kind === "fault") return `${resolvedText(r)} ${faultReasonName(r.reason)}`;
  const fp = decodeFingerprint(mem.read(r.addr - (r.addr % 8), 16), r.addr % 8);
  return `${resolvedText(r)}${fp ? ` (page fingerprint tag ${fp.tag})` : ""}`;
}

export type { Permitted };
