/**
 * Replay: re-run a trace's steps, in order, against an adapter, and let a judge rule on each
 * outcome. No fast-check and no randomness: the steps are the exact calls. [HARNESS-REPLAY-1]
 */

import type { StepJudge } from "../cases/judge.ts";
import { decodeConfig } from "../contract/codec.ts";
import type { Model } from "../contract/types.ts";
import { MODEL_DIED, performStep } from "../trace/calls.ts";
import type { Trace, Verdict } from "../trace/types.ts";

/**
 * reproduced: the trace recorded a failure and the judge fails it again;
 * fails: the trace recorded a pass (or error) and the judge now fails it;
 * passes-now: the trace recorded a failure and every step is now judged fine;
 * passes: recorded a pass, still passes; error: the replay could not be carried out.
 */
export type ReplayOutcome = "reproduced" | "fails" | "passes-now" | "passes" | "error";

export interface ReplayResult {
  outcome: ReplayOutcome;
  recorded: Verdict;
  message: string;
  /** The step the judge failed, or that could not be carried out, and its op. */
  step?: number;
  op?: string;
  observed?: unknown;
  permitted?: unknown;
  /** Steps carried out. */
  stepsRun: number;
}

export interface ReplayOptions {
  /** Called after each step (progress display). */
  onStep?: (index: number, total: number) => void;
}

export async function replayTrace(
  trace: Trace,
  model: Model,
  judge: StepJudge,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const recorded = trace.verdict;
  const failed = (message: string, extra: Partial<ReplayResult>, stepsRun: number): ReplayResult => ({
    outcome: recorded === "fail" ? "reproduced" : "fails",
    recorded,
    message,
    stepsRun,
    ...extra,
  });
  let stepsRun = 0;
  // A trace that does not start with a reset gets the trace's configuration first.
  if (trace.steps[0]?.op !== "reset") {
    try {
      await model.reset(decodeConfig(trace.config));
    } catch (e) {
      return errorResult(
        recorded,
        `the adapter refused the trace's configuration: ${(e as Error).message}`,
        0,
      );
    }
  }
  for (const [index, step] of trace.steps.entries()) {
    const outcome = await performStep(model, step.op, step.args);
    stepsRun++;
    options.onStep?.(index, trace.steps.length);
    if (outcome.error !== undefined && step.error === undefined) {
      // The platform could not be set up as recorded, or the adapter broke: not a verdict.
      if (step.op === "reset" && judge.judgesResets !== true) {
        return errorResult(
          recorded,
          `step ${index}: the adapter refused the trace's configuration: ${outcome.error.message}`,
          stepsRun,
          index,
        );
      }
      if (outcome.error.code === "protocol") {
        return errorResult(recorded, outcome.error.message, stepsRun, index, step.op);
      }
    }
    // [HARNESS-REPLAY-4] the model died serving this step: its failure, whatever the judge.
    if (outcome.error?.code === MODEL_DIED)
      return failed(`the model died: ${outcome.error.message}`, { step: index, op: step.op }, stepsRun);
    const judgement = judge.onStep({ ...step, index }, outcome);
    if (!judgement.ok) {
      const extra: Partial<ReplayResult> = { step: index, op: step.op };
      if (judgement.observed !== undefined) extra.observed = judgement.observed;
      if (judgement.permitted !== undefined) extra.permitted = judgement.permitted;
      return failed(judgement.message, extra, stepsRun);
    }
  }
  return {
    outcome: recorded === "fail" ? "passes-now" : "passes",
    recorded,
    message: recorded === "fail" ? "the recorded failure no longer occurs" : "every step is judged fine",
    stepsRun,
  };
}

function errorResult(
  recorded: Verdict,
  message: string,
  stepsRun: number,
  step?: number,
  op?: string,
): ReplayResult {
  return {
    outcome: "error",
    recorded,
    message,
    stepsRun,
    ...(step === undefined ? {} : { step }),
    ...(op === undefined ? {} : { op }),
  };
}
