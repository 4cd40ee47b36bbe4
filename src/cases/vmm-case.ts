/**
 * One judged case of a VMM property: every surface call goes through `VmmCase.model`, is
 * recorded (the trace) and judged at once by VmmStepJudge; a violation, or a failed check of the
 * property's own, ends the case. `runVmmCases` runs the cases under fast-check, which shrinks a
 * failing input. An adapter or protocol error is not a verdict: it propagates.
 */
import type fc from "fast-check";
import { invoke, surfaceFunction, surfaceModel } from "../contract/surface.ts";
import type { Model } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";
import { isOracleMethod } from "../oracle/index.ts";
import { TraceRecorder } from "../trace/recorder.ts";
import { CaseFailed } from "./case-failed.ts";
import type { PropertyContext, PropertyOutcome } from "./property.ts";
import { runCases } from "./run-cases.ts";
import { VmmStepJudge } from "./vmm-judge.ts";

export class VmmCase {
  readonly model: Model;
  readonly judge = new VmmStepJudge();
  private readonly recorder: TraceRecorder;

  constructor(private readonly ctx: Pick<PropertyContext, "model" | "check" | "note">) {
    this.recorder = new TraceRecorder(ctx.model);
    this.model = this.wrap(this.recorder.model);
  }

  note(command: string): void {
    this.ctx.note(command);
  }

  /** Mark the last step as judged; returns its index. */
  check(): number {
    return this.ctx.check();
  }

  private judgeLast(): void {
    const index = this.recorder.steps.length - 1;
    const step = this.recorder.steps[index];
    if (step === undefined) return;
    const outcome = step.error !== undefined ? { error: step.error } : { result: step.result as Json };
    const v = this.judge.feed(step, outcome);
    if (step.op === "dma") this.ctx.check(index);
    if (v !== undefined) {
      this.ctx.check(index);
      throw new CaseFailed({
        step: index,
        message: v.message,
        observed: v.observed,
        permitted: [...v.permitted],
      });
    }
  }

  /** Make the call and judge it; a reset is judged even when it throws (a refusal is an outcome). */
  private async judged<T>(call: () => Promise<T>, judgeRefusal = false): Promise<T> {
    let value: T;
    try {
      value = await call();
    } catch (e) {
      if (judgeRefusal) this.judgeLast();
      throw e;
    }
    this.judgeLast();
    return value;
  }

  /** The oracle's calls judged; hostView and the host surface as they are (judged by replay only). */
  private wrap(inner: Model): Model {
    const missing = (lacks: string) => new Error(`the model has no ${lacks}`);
    const model = surfaceModel({
      describe: () => inner.describe(),
      close: () => inner.close(),
      has: (m) => isOracleMethod(m) || (m === "hostView" && surfaceFunction(inner, m) !== undefined),
      call: (c) =>
        isOracleMethod(c.op)
          ? this.judged(() => invoke(inner, c, missing), c.op === "reset")
          : invoke(inner, c, missing),
    });
    if (inner.host !== undefined) model.host = inner.host;
    return model;
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
