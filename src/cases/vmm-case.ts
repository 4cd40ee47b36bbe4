/**
 * One judged case of a VMM property: a JudgedCase whose judge is VmmStepJudge (the oracle, with
 * passed-through DMAs judged through stage 2 and resets by the VMM-COMPAT rules); a violation,
 * or a failed check of the property's own, ends the case. `runVmmCases` runs the cases under
 * fast-check, which shrinks a failing input. An adapter or protocol error is not a verdict: it
 * propagates. hostView and the host surface are made and counted, not judged (replay compares
 * them with their recording).
 */
import type fc from "fast-check";
import { encodeArgs, encodeResult, type SurfaceCall } from "../contract/surface.ts";
import { isOracleMethod } from "../oracle/index.ts";
import { errorOutcome } from "../trace/calls.ts";
import { CaseFailed } from "./case-failed.ts";
import { type CallOutcome, type CaseJudge, JudgedCase } from "./judged-case.ts";
import type { PropertyContext, PropertyOutcome } from "./property.ts";
import { runCases } from "./run-cases.ts";
import { VmmStepJudge } from "./vmm-judge.ts";

/** VmmStepJudge as a case's judge: it judges the call as its trace step encodes it. */
class VmmCaseJudge extends VmmStepJudge implements CaseJudge {
  judges(call: SurfaceCall): boolean {
    return isOracleMethod(call.op);
  }

  /** A refused reset is an outcome too; other calls that raise leave nothing to judge. */
  judge(call: SurfaceCall, outcome: CallOutcome) {
    if (!outcome.ok && call.op !== "reset") return undefined;
    const step = { op: call.op, args: encodeArgs(call) };
    const v = this.feed(
      step,
      outcome.ok ? { result: encodeResult(call.op, outcome.value) } : { error: errorOutcome(outcome.error) },
    );
    if (v === undefined) return undefined;
    return {
      message: v.message,
      ...(v.rule === undefined ? {} : { rule: v.rule }),
      observed: v.observed,
      permitted: [...v.permitted],
    };
  }
}

export class VmmCase extends JudgedCase<VmmCaseJudge> {
  constructor(ctx: Pick<PropertyContext, "model" | "check" | "note">) {
    super(ctx, new VmmCaseJudge());
  }
}

/** Run `body` on each generated input, each in a fresh VmmCase. */
export function runVmmCases<T>(
  ctx: PropertyContext,
  input: fc.Arbitrary<T>,
  body: (vc: VmmCase, value: T) => Promise<void>,
): Promise<PropertyOutcome> {
  return runCases(
    ctx,
    input,
    () => new VmmCase(ctx),
    body,
    (e) => (e instanceof CaseFailed ? e.failure : undefined),
  );
}
