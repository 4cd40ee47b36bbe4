/**
 * Trace steps as oracle steps: the one decoding both the live case and a replay use, so a
 * trace is re-judged exactly as it was judged when recorded. [ORACLE-JUDGE-7]
 */

import { decodeStep } from "../contract/surface.ts";
import { isOracleMethod, type OracleStep } from "../oracle/index.ts";
import type { StepOutcome, TraceStep } from "../trace/types.ts";

/**
 * The oracle's view of a step with the given outcome, or undefined for a step the oracle does not
 * judge (host surface, hostView) or a call that raised an error (nothing happened to judge).
 */
export function guestCaseStepOf(
  step: Pick<TraceStep, "op" | "args">,
  outcome: StepOutcome,
): OracleStep | undefined {
  if (outcome.error !== undefined || !isOracleMethod(step.op)) return undefined;
  return decodeStep(step.op, step.args, outcome.result);
}
