/**
 * One trace step as a call on a Model: decode the step's args, make the call, encode what
 * came back (src/contract/surface.ts). Errors become outcomes too, so a trace keeps the step
 * that failed. [HARNESS-TRACE-2]
 */
import { ModelDied, ModelRequestError, ProtocolError } from "../contract/errors.ts";
import { decodeCall, encodeResult, invoke } from "../contract/surface.ts";
import type { Model } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";
import type { StepError, StepOp, StepOutcome } from "./types.ts";

/** The step error code of a model that died serving the call [HARNESS-REPLAY-4]. */
export const MODEL_DIED = "model-died";

export function errorOutcome(e: unknown): StepError {
  if (e instanceof ModelRequestError) return { code: e.code, message: e.reason };
  if (e instanceof ProtocolError) return { code: "protocol", message: e.message };
  // [HARNESS-REPLAY-4] the model itself ended: its failure, kept apart from adapter errors.
  if (e instanceof ModelDied) return { code: MODEL_DIED, message: e.detail };
  return { code: "exception", message: e instanceof Error ? e.message : String(e) };
}

/** Make the call a step describes; never throws. */
export async function performStep(model: Model, op: StepOp, args: Json): Promise<StepOutcome> {
  try {
    const call = decodeCall(op, args);
    const value = await invoke(
      model,
      call,
      (lacks) => new ModelRequestError(op, 0, "unsupported", `the adapter has no ${lacks}`),
    );
    return { result: encodeResult(op, value) };
  } catch (e) {
    return { error: errorOutcome(e) };
  }
}
