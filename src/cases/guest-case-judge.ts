/**
 * The oracle as a step-by-step judge: fed every platform-surface step of one case (live or
 * replayed) in order, it creates a fresh Oracle at each reset and reports the first violation.
 * [ORACLE-JUDGE-7] Live cases and `iommu-conformance replay` share this, so both judge alike.
 */

import { decodeConfig } from "../contract/codec.ts";
import type { Json } from "../contract/wire.ts";
import { Oracle, type OracleStep, type Tolerance, type Violation } from "../oracle/index.ts";
import type { StepOutcome, Trace, TraceStep } from "../trace/types.ts";
import { guestCaseStepOf } from "./guest-case-steps.ts";
import type { Judgement, StepJudge } from "./judge.ts";

export class StepOracle {
  private oracle?: Oracle;

  /**
   * Start from a configuration without a reset step (a trace that does not begin with one).
   * tolerance: the run's known deviations, judged with their relaxations [ORACLE-TOL-1].
   */
  constructor(
    config?: Json,
    private readonly tolerance?: Tolerance,
  ) {
    if (config !== undefined) this.oracle = new Oracle(decodeConfig(config), tolerance);
  }

  get current(): Oracle | undefined {
    return this.oracle;
  }

  /** Judge one step with the outcome the model gave; undefined when it is permitted. */
  feed(step: Pick<TraceStep, "op" | "args">, outcome: StepOutcome): Violation | undefined {
    const s = guestCaseStepOf(step, outcome);
    return s === undefined ? undefined : this.feedStep(s);
  }

  /**
   * Judge one step given as the oracle sees it. A live case passes the call's own arguments and
   * result (the same values the trace encodes, so a replay judges alike) without the round trip
   * through the trace's hex encoding.
   */
  feedStep(s: OracleStep): Violation | undefined {
    if (s.op === "reset") {
      this.oracle = new Oracle(s.args[0], this.tolerance);
      this.oracle.observe(s);
      return undefined;
    }
    if (this.oracle === undefined) return undefined; // nothing to judge before a platform exists
    const v = this.oracle.observe(s);
    return v.ok ? undefined : v.violation;
  }
}

/** A violation as report fields: what the model did next to every permitted outcome and why. */
export function violationReport(v: Violation): {
  message: string;
  observed: Json;
  permitted: Json;
  rule?: string;
} {
  return {
    message: v.message,
    observed: v.observed,
    permitted: [...v.permitted],
    ...(v.rule === undefined ? {} : { rule: v.rule }),
  };
}

/**
 * [ORACLE-JUDGE-7] The replay judge of oracle-judged properties: the trace's steps go into a
 * fresh oracle with the outcomes the adapter gives now, so a replay re-judges without fast-check.
 * Extra checks a property made beyond the oracle (queue registers, fault status) are re-judged
 * by `extra`, when given.
 */
export function oracleJudge(trace: Trace, extra?: StepJudge, tolerance?: Tolerance): StepJudge {
  const judge = new StepOracle(trace.steps[0]?.op === "reset" ? undefined : trace.config, tolerance);
  return {
    onStep(step, outcome): Judgement {
      const v = judge.feed(step, outcome);
      if (v !== undefined) return { ok: false, ...violationReport(v) };
      return extra === undefined ? { ok: true } : extra.onStep(step, outcome);
    },
  };
}
