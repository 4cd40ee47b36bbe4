/**
 * A judge rules on each step of a case as it is carried out, or replayed from a trace: the
 * oracle's judge for guest cases, the VMM judge for passed-through devices, and the stand-in
 * that compares each step with its recording. [HARNESS-REPLAY-2] [HARNESS-REPLAY-3]
 */
import { canonicalJson } from "../trace/serialize.ts";
import type { StepOutcome, Trace, TraceStep } from "../trace/types.ts";

export type Judgement =
  | { ok: true }
  | { ok: false; message: string; observed?: unknown; permitted?: unknown };

/** Rules on each replayed step; the oracle implements this for real judgements. */
export interface StepJudge {
  /**
   * [HARNESS-REPLAY-3] The judge rules on resets too, refusals included: a reset the adapter
   * refuses where the recording did not is then the judge's verdict, not a replay error.
   */
  readonly judgesResets?: boolean;
  onStep(step: TraceStep & { index: number }, outcome: StepOutcome): Judgement;
}

/**
 * [HARNESS-REPLAY-2] The stand-in judge until the oracle exists: a checked step must give the
 * outcome it recorded. The failure step of a failing trace is the exception: giving the
 * recorded (wrong) outcome again reproduces the failure; anything else means it is gone.
 * Errors compare by code only, since their messages carry ids and process details.
 */
export function recordedResultJudge(trace: Trace): StepJudge {
  const failing = trace.verdict === "fail" ? trace.failure : undefined;
  return {
    onStep(step, outcome) {
      const isFailureStep = failing !== undefined && failing.step === step.index;
      if (!step.checked && !isFailureStep) return { ok: true };
      const same = comparable(step) === comparable(outcome);
      if (isFailureStep) {
        if (!same) return { ok: true };
        return {
          ok: false,
          message: `gives the recorded failing outcome again: ${failing.message}`,
          observed: visible(outcome),
          ...(failing.permitted === undefined ? {} : { permitted: failing.permitted }),
        };
      }
      if (same) return { ok: true };
      return {
        ok: false,
        message: "differs from the recording",
        observed: visible(outcome),
        permitted: visible(step),
      };
    },
  };
}

function comparable(o: StepOutcome): string {
  return o.error !== undefined ? canonicalJson({ error: o.error.code }) : canonicalJson({ result: o.result });
}

function visible(o: StepOutcome): unknown {
  return o.error !== undefined ? { error: o.error } : o.result;
}

/**
 * [HARNESS-REPLAY-2] The checks a property makes beyond the oracle (queue registers after an
 * invalid descriptor), re-judged on replay: the failure step of a failing trace giving its recorded
 * outcome again reproduces the failure; every other step is left to the oracle.
 */
export function recordedFailureJudge(trace: Trace): StepJudge {
  const failing = trace.verdict === "fail" ? trace.failure : undefined;
  return {
    onStep(step, outcome) {
      if (failing === undefined || failing.step !== step.index) return { ok: true };
      if (comparable(step) !== comparable(outcome)) return { ok: true };
      return {
        ok: false,
        message: `gives the recorded failing outcome again: ${failing.message}`,
        observed: visible(outcome),
      };
    },
  };
}
