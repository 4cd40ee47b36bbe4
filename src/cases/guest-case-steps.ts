/**
 * Trace steps as oracle steps: the one decoding both the live case and a replay use, so a
 * trace is re-judged exactly as it was judged when recorded. [ORACLE-JUDGE-7]
 */

import { decodeConfig, decodeDmaRequest, decodeDmaResult, hexToBytes, hexToU64 } from "../contract/codec.ts";
import type { ParamsOf, ResultOf } from "../contract/wire.ts";
import type { OracleStep } from "../oracle/index.ts";
import type { StepOutcome, TraceStep } from "../trace/types.ts";

/**
 * The oracle's view of a step with the given outcome, or undefined for a step the oracle does not
 * judge (host surface, hostView) or a call that raised an error (nothing happened to judge).
 */
export function guestCaseStepOf(
  step: Pick<TraceStep, "op" | "args">,
  outcome: StepOutcome,
): OracleStep | undefined {
  if (outcome.error !== undefined) return undefined;
  const result = outcome.result;
  switch (step.op) {
    case "reset":
      return { op: "reset", args: [decodeConfig((step.args as ParamsOf["reset"]).config)] };
    case "writeGuest": {
      const a = step.args as ParamsOf["writeGuest"];
      return { op: "writeGuest", args: [hexToU64(a.gpa), hexToBytes(a.data)] };
    }
    case "readGuest": {
      const a = step.args as ParamsOf["readGuest"];
      const r = result as ResultOf["readGuest"];
      return { op: "readGuest", args: [hexToU64(a.gpa), a.len], result: hexToBytes(r.data) };
    }
    case "writeReg": {
      const a = step.args as ParamsOf["writeReg"];
      return { op: "writeReg", args: [a.off, hexToU64(a.value), a.width] };
    }
    case "readReg": {
      const a = step.args as ParamsOf["readReg"];
      const r = result as ResultOf["readReg"];
      return { op: "readReg", args: [a.off, a.width], result: hexToU64(r.value) };
    }
    case "dma": {
      const req = decodeDmaRequest(step.args as unknown as ParamsOf["dma"]);
      return { op: "dma", args: [req], result: decodeDmaResult(result as unknown as ResultOf["dma"]) };
    }
    default:
      return undefined;
  }
}
