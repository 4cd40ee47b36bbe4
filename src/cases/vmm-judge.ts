/**
 * Judging a VM with passed-through devices. Every platform step goes to the permitted-outcome
 * oracle as for an emulated device, except DMAs of passed-through devices: the oracle does not
 * judge those (they reach host memory, record no vIOMMU fault), but each must be one of the
 * outcomes the oracle permits for an emulated device with the same guest tables, mapped through
 * the VM's stage 2: writes to read-only regions and, for an errata IOMMU's nest parent, anything
 * in a read-only region are blocked. [VMM-S2-2] [VMM-S2-4] [VMM-S2-7] [HOST-XLATE-13]
 * The oracle then learns from each: the flags the host's walk of the guest tables may and must
 * set, and where a write landed, as for an emulated device's DMA. [ORACLE-JUDGE-7]
 * A reset is judged as well: accepted exactly when the VMM-COMPAT rules accept its configuration.
 * The same judge serves live cases and `replay`, so both judge alike.
 */

import { decodeConfig } from "../contract/codec.ts";
import { decodeCall, decodeStep } from "../contract/surface.ts";
import type { DmaRequest, DmaResult, PlatformConfig } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";
import { decodeFingerprint, isOracleMethod, Oracle, type Violation } from "../oracle/index.ts";
import type { StepOutcome, Trace, TraceStep } from "../trace/types.ts";
import { type Judgement, recordedResultJudge, type StepJudge } from "./judge.ts";
import { judgeReset } from "./vmm-compat.ts";

/** What a passed-through device's stage 2 lets through: guest regions, read-only ones maybe left out. */
export interface Stage2Map {
  regions: Array<{ gpa: number; end: number; readOnly: boolean }>;
}

/** [VMM-S2-2] [VMM-S2-4] The stage 2 of each passed-through SID. */
export function stage2Maps(config: PlatformConfig): Map<number, Stage2Map> {
  const nesting = config.viommu.scalable && config.viommu.firstStage;
  const regions =
    config.memory.regions.length > 0
      ? config.memory.regions
      : [{ gpa: 0n, size: config.memory.size, readOnly: false }];
  const out = new Map<number, Stage2Map>();
  for (const d of config.devices) {
    if (d.kind !== "passthrough" || d.host === undefined) continue;
    const errata = config.hostIommus.find((h) => h.id === d.host?.iommu)?.errata772415 ?? false;
    out.set(d.sid, {
      regions: regions
        .filter((r) => !(r.readOnly && nesting && errata))
        .map((r) => ({ gpa: Number(r.gpa), end: Number(r.gpa + r.size), readOnly: r.readOnly })),
    });
  }
  return out;
}

export function stage2Allows(s2: Stage2Map, addr: number, len: number, write: boolean): boolean {
  const r = s2.regions.find((x) => addr >= x.gpa && addr + Math.max(len, 1) <= x.end);
  return r !== undefined && !(write && r.readOnly);
}

type PtOutcome = { kind: "aborted" } | { kind: "ok"; addr: number };

/** The outcomes a passed-through device may show for req now: the oracle's, through stage 2. */
export function permittedForPassthrough(oracle: Oracle, s2: Stage2Map, req: DmaRequest): PtOutcome[] {
  const out: PtOutcome[] = [];
  for (const o of oracle.permittedFor(req).outcomes) {
    const r = o.outcome;
    const p: PtOutcome =
      r.kind === "ok" && stage2Allows(s2, r.addr, req.len, req.write)
        ? { kind: "ok", addr: r.addr }
        : { kind: "aborted" };
    if (!out.some((x) => JSON.stringify(x) === JSON.stringify(p))) out.push(p);
  }
  return out;
}

function describePt(p: PtOutcome): string {
  return p.kind === "aborted" ? "aborted" : `completes at GPA 0x${p.addr.toString(16)}`;
}

/**
 * A passed-through DMA's verdict: a violation, or the output addresses it may have reached (a
 * completed read: the page its data came from; a completed write: every place stage 2 lets it
 * land; none when aborted).
 */
export type PassthroughVerdict = { ok: true; reached: number[] } | { ok: false; violation: Violation };

/** Judge a passed-through device's DMA against the permitted set. */
export function judgePassthroughDma(
  oracle: Oracle,
  s2: Stage2Map,
  req: DmaRequest,
  result: DmaResult,
): PassthroughVerdict {
  const permitted = permittedForPassthrough(oracle, s2, req);
  const lines = () => [
    ...permitted.map((p) => `${describePt(p)} (passed through)`),
    ...oracle.permittedFor(req).text(),
  ];
  const who = `passed-through device 0x${req.sid.toString(16)}${req.pasid === undefined ? "" : ` PASID ${req.pasid}`}`;
  const bad = (message: string, observed: string): PassthroughVerdict => ({
    ok: false,
    violation: { rule: "VMM-S2-7", message: `${who}: ${message}`, observed, permitted: lines() },
  });
  if (result.status === "aborted") {
    if (permitted.some((p) => p.kind === "aborted")) return { ok: true, reached: [] };
    return bad("the DMA was aborted, but only completions are permitted", "aborted");
  }
  const oks = permitted.flatMap((p) => (p.kind === "ok" ? [p.addr] : []));
  if (oks.length === 0) return bad("the DMA completed, but it must be blocked", "completed");
  if (req.write) return { ok: true, reached: oks };
  const hit = decodeFingerprint(result.data ?? new Uint8Array(0), Number(req.iova & 0xfffn));
  if (hit !== null && oks.includes(hit.gpa)) return { ok: true, reached: [hit.gpa] };
  return bad(
    "the DMA read returned data from no permitted page",
    hit === null ? "data with no fingerprint" : `data fingerprinted as GPA 0x${hit.gpa.toString(16)}`,
  );
}

/**
 * The step judge of VMM cases: a fresh oracle at each reset; passed-through DMAs judged through
 * stage 2, then shown to the oracle to learn from (not to judge); host-surface steps not judged here.
 */
export class VmmStepJudge {
  private oracle?: Oracle;
  private s2 = new Map<number, Stage2Map>();

  constructor(config?: Json) {
    if (config !== undefined) this.start(decodeConfig(config));
  }

  get current(): Oracle | undefined {
    return this.oracle;
  }

  stage2Of(sid: number): Stage2Map | undefined {
    return this.s2.get(sid);
  }

  feed(step: Pick<TraceStep, "op" | "args">, outcome: StepOutcome): Violation | undefined {
    if (step.op === "reset") {
      // [ORACLE-JUDGE-7] a reset is judged too: accepted or refused as the VMM-COMPAT rules say.
      const config = decodeCall("reset", step.args).args[0];
      if (outcome.error === undefined) this.start(config);
      else this.stop();
      return judgeReset(config, outcome);
    }
    if (outcome.error !== undefined) return undefined;
    const o = this.oracle;
    if (o === undefined || !isOracleMethod(step.op)) return undefined;
    const s = decodeStep(step.op, step.args, outcome.result);
    if (s.op === "dma") {
      const s2 = this.s2.get(s.args[0].sid);
      if (s2 !== undefined) {
        const v = judgePassthroughDma(o, s2, s.args[0], s.result);
        if (!v.ok) return v.violation;
        // [ORACLE-JUDGE-7] the host's walk used the guest's tables: the oracle learns its flags
        // (ORACLE-JUDGE-9, ORACLE-JUDGE-11) and where a write landed (ORACLE-JUDGE-4).
        o.learnDma(s.args[0], s.result, v.reached);
        return undefined;
      }
    }
    const v = o.observe(s);
    return v.ok ? undefined : v.violation;
  }

  /** A refused reset: no platform to judge until the next reset. */
  private stop(): void {
    this.oracle = undefined;
    this.s2 = new Map();
  }

  private start(config: PlatformConfig): void {
    this.oracle = new Oracle(config);
    this.oracle.observe({ op: "reset", args: [config] });
    this.s2 = stage2Maps(config);
  }
}

/**
 * [ORACLE-JUDGE-7] The replay judge of VMM properties: resets against the VMM-COMPAT rules,
 * platform steps through the oracle (and stage 2), checked host-surface and hostView steps against
 * their recorded results. It judges refused resets itself. [HARNESS-REPLAY-3]
 */
export function vmmJudge(trace: Trace): StepJudge {
  const judge = new VmmStepJudge(trace.steps[0]?.op === "reset" ? undefined : trace.config);
  const recorded = recordedResultJudge(trace);
  return {
    judgesResets: true,
    onStep(step, outcome): Judgement {
      // hostView and the host surface: not the oracle's, compared with their recording.
      if (!isOracleMethod(step.op)) return recorded.onStep(step, outcome);
      const v = judge.feed(step, outcome);
      return v === undefined
        ? { ok: true }
        : { ok: false, message: v.message, observed: v.observed, permitted: [...v.permitted] };
    },
  };
}
