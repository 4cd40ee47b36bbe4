/**
 * The interface a property implements to run under `iommu-conformance run`, and the context
 * the harness hands it. Properties live in properties/ and are listed in properties/index.ts.
 */

import type { Model, ModelDescription } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";
import type { Tolerance } from "../oracle/index.ts";
import type { Trace } from "../trace/types.ts";
import type { StepJudge } from "./judge.ts";

export interface CaseFailure {
  message: string;
  /** The step judged wrong; default: the last checked step, else the last step. */
  step?: number;
  /** The rule broken, an id of spec/. [HARNESS-FAIL-1] */
  rule?: string;
  observed?: Json;
  permitted?: Json;
}

export interface PropertyContext {
  /** The model under test; every surface call made through it is recorded as a trace step. */
  readonly model: Model;
  readonly description: ModelDescription;
  /** The adapter spec (for messages). */
  readonly adapter: string;
  /** Number of cases to run. */
  readonly runs: number;
  /** fast-check seed. */
  readonly seed: number;
  /** When set, replay exactly this fast-check path (one case, no shrinking). */
  readonly path?: string;
  /**
   * With path: what else fast-check needs to follow it, for properties whose input it cannot
   * rebuild from the path alone (fc.commands' replay record). [HARNESS-SEED-1]
   */
  readonly replayPath?: string;
  /** The time this property may take, in milliseconds (fast-check interruptAfterTimeLimit). */
  readonly timeLimitMs?: number;
  /** False: stop at the first failing case without shrinking it (fast-check endOnFailure). */
  readonly shrink?: boolean;
  /** Known deviations the oracle judges with their relaxations, counting each use [HARNESS-KNOWN-1]. */
  readonly tolerance?: Tolerance;
  /** A new case starts: forget the steps recorded for the previous one. */
  beginCase(): void;
  /** A human-readable command of the current case, kept in its trace. */
  note(command: string): void;
  /** Mark the last step (or step `index`) as judged; returns its index. */
  check(index?: number): number;
  /**
   * The current case failed. The harness writes its trace at once, and again for each smaller
   * failing case shrinking finds, so the file always holds the latest. [HARNESS-TRACE-6]
   */
  caseFailed(failure: CaseFailure): Promise<void>;
  /**
   * The current case broke (a protocol error, the model's death, an exception): its trace, ending
   * at the call that broke, is written at once, unless a failing case was already kept
   * (`afterFailure`), which it then must not replace. [HARNESS-BROKEN-1]
   */
  caseBroke?(error: unknown, afterFailure: boolean): Promise<void>;
  /** Cases done so far (progress display). */
  progress(done: number): void;
  /**
   * Why the run was interrupted (a signal), or undefined. A property checks it before each
   * case and stops generating; the harness reports the property as incomplete. [HARNESS-STOP-1]
   */
  interrupted?(): string | undefined;
}

export type PropertyOutcome =
  | { status: "pass"; runs: number }
  | {
      status: "fail";
      runs: number;
      seed: number;
      path: string;
      /** Needed with path to replay this failure (see PropertyContext.replayPath). */
      replayPath?: string;
      message: string;
      shrinks?: number;
    }
  /** Stopped by the time limit before its cases were all run. [HARNESS-STOP-2] */
  | { status: "incomplete"; runs: number; reason: string }
  /** Decided at run time, for example when the model refuses every configuration tried. */
  | { status: "skip"; reason: string };

export interface PropertyDefinition {
  /** Stable id, e.g. "guest-translation-equals-walk". */
  id: string;
  title: string;
  /** The spec rule ids it checks. */
  rules: string[];
  /** Why this model cannot run the property (it is then SKIPPED), or null. [HARNESS-SKIP-1] */
  needs(description: ModelDescription): string | null;
  run(ctx: PropertyContext): Promise<PropertyOutcome>;
  /**
   * The judge for replaying this property's traces; default: the recorded-result judge.
   * tolerance: known deviations to judge with their relaxations (replay --known).
   */
  judge?(trace: Trace, tolerance?: Tolerance): StepJudge;
}
