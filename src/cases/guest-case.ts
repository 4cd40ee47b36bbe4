/**
 * One oracle-judged case of a guest-side property: a JudgedCase whose judge is the case's oracle,
 * fed every platform-surface call as the call's own values (the values the trace encodes, so a
 * replay judges alike); a violation ends the case with the permitted set next to what the model
 * did. After each DMA write the candidates the oracle could not yet tell apart are read back, so
 * every write is judged. [ORACLE-JUDGE-4] [ORACLE-JUDGE-7]
 */

import { decodeCall, encodeArgs, type SurfaceCall } from "../contract/surface.ts";
import type { DmaResult, Model, PlatformConfig } from "../contract/types.ts";
import { isOracleMethod, type OracleStep, type Tolerance } from "../oracle/index.ts";
import { StepOracle, violationReport } from "./guest-case-judge.ts";
import { type CallOutcome, type CaseJudge, JudgedCase } from "./judged-case.ts";
import type { PropertyContext } from "./property.ts";

/** The oracle as a case's judge. */
class OracleCaseJudge implements CaseJudge {
  readonly oracle: StepOracle;

  /** tolerance: the run's known deviations, judged with their relaxations [ORACLE-TOL-1]. */
  constructor(tolerance?: Tolerance) {
    this.oracle = new StepOracle(undefined, tolerance);
  }

  judges(call: SurfaceCall): boolean {
    return isOracleMethod(call.op);
  }

  /** A call that raised leaves nothing to judge. */
  judge(call: SurfaceCall, outcome: CallOutcome) {
    if (!outcome.ok) return undefined;
    // The oracle gets the configuration as a trace carries it (encoded and decoded).
    const args = call.op === "reset" ? decodeCall("reset", encodeArgs(call)).args : call.args;
    const v = this.oracle.feedStep({ op: call.op, args, result: outcome.value } as OracleStep);
    return v === undefined ? undefined : violationReport(v);
  }

  /** Read back every candidate landing place of unresolved DMA writes. */
  async followUp(call: SurfaceCall, value: unknown, model: Model): Promise<void> {
    if (call.op !== "dma") return;
    const [req] = call.args;
    if (!req.write || (value as DmaResult).status !== "ok") return;
    const pending = this.oracle.current?.unresolvedWrites ?? [];
    const seen = new Set<number>();
    for (const w of pending)
      for (const c of w.candidates) {
        if (seen.has(c)) continue;
        seen.add(c);
        await model.platform.readGuest(BigInt(c), req.len);
      }
  }
}

export class GuestCase extends JudgedCase<OracleCaseJudge> {
  constructor(ctx: Pick<PropertyContext, "model" | "check" | "note" | "tolerance">) {
    super(ctx, new OracleCaseJudge(ctx.tolerance));
  }

  /** The case's oracle (after the first reset). */
  get oracle() {
    const o = this.judge.oracle.current;
    if (o === undefined) throw new Error("the case has no platform yet: reset first");
    return o;
  }

  async reset(config: PlatformConfig): Promise<void> {
    await this.model.reset(config);
  }
}
