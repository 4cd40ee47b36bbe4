/**
 * The trace format, version 1 (schema/trace.schema.json). [HARNESS-TRACE-1]
 * Steps hold the surface calls exactly as made, in the stdio protocol's JSON encoding,
 * so a trace replays against any adapter without fast-check. [HARNESS-TRACE-2]
 */
import type { SurfaceMethod } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";

export const TRACE_FORMAT = "iommu-conformance-trace";
export const TRACE_VERSION = 1;

export type StepOp = SurfaceMethod;

export interface StepError {
  /** The model's reply code, "protocol" for a protocol failure, "exception" for an in-process throw, "model-died" when the model ended serving it. */
  code: string;
  message: string;
}

/** What one surface call gave: its encoded result, or the error it raised. */
export type StepOutcome = { result: Json; error?: undefined } | { error: StepError; result?: undefined };

export type TraceStep = {
  op: StepOp;
  /** The call's arguments as protocol params (docs/protocol.md). */
  args: Json;
  /** The property judged this step's outcome. */
  checked?: true;
} & StepOutcome;

export interface TraceFailure {
  /** Index in steps of the step whose outcome was judged wrong. */
  step: number;
  message: string;
  /** The rule broken, an id of spec/, when the judge names one. [HARNESS-FAIL-1] */
  rule?: string;
  observed?: Json;
  permitted?: Json;
}

export type Verdict = "fail" | "pass" | "error";

export interface Trace {
  format: typeof TRACE_FORMAT;
  version: typeof TRACE_VERSION;
  suite: string;
  property: string;
  adapter: string;
  /** The platform configuration, encoded as in the protocol's reset params. */
  config: Json;
  seed: number;
  /** fast-check path of the case; "" when unknown. */
  path: string;
  /** With path, fast-check's record for properties built on fc.commands. [HARNESS-SEED-1] */
  replayPath?: string;
  commands?: string[];
  steps: TraceStep[];
  failure?: TraceFailure;
  verdict: Verdict;
}
