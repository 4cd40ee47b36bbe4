/**
 * One judged case, guest or VMM: every surface call the case makes goes through `model`, is
 * counted (the run's recorder records the same calls, so the count is the step index), and is
 * handed at once to the case's judge; a violation ends the case with a CaseFailed naming the step.
 * The judge is pluggable: the oracle for guest cases (guest-case.ts), the VMM judge for platforms
 * with passed-through devices (vmm-case.ts). [ORACLE-JUDGE-7]
 */

import { checkEncodable } from "../contract/codec.ts";
import { encodeArgs, invoke, type SurfaceCall, surfaceFunction, surfaceModel } from "../contract/surface.ts";
import type { Model } from "../contract/types.ts";
import { CaseFailed } from "./case-failed.ts";
import type { CaseFailure, PropertyContext } from "./property.ts";

/** A call just made: its value, or the error it raised. */
export type CallOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** What judges the steps of one case. */
export interface CaseJudge {
  /** Whether it judges this call (the others are made and counted, not judged). */
  judges(call: SurfaceCall): boolean;
  /** The failure of a judged call, or undefined when its outcome is permitted. */
  judge(call: SurfaceCall, outcome: CallOutcome): Omit<CaseFailure, "step"> | undefined;
  /** Calls to make after a judged call that succeeded (judged in turn), e.g. read-backs. */
  followUp?(call: SurfaceCall, value: unknown, model: Model): Promise<void>;
}

export class JudgedCase<J extends CaseJudge = CaseJudge> {
  /** The model to drive: every surface call is counted, and judged when the judge judges it. */
  readonly model: Model;
  /** Surface calls made so far: the index of the next step. */
  private steps = 0;

  constructor(
    protected readonly ctx: Pick<PropertyContext, "model" | "check" | "note">,
    readonly judge: J,
  ) {
    this.model = this.wrap(ctx.model);
  }

  /** Steps recorded so far in this case; the index of the next step. */
  get stepCount(): number {
    return this.steps;
  }

  /** A human-readable command of the case, kept in its trace. */
  note(command: string): void {
    this.ctx.note(command);
  }

  /** Mark the last step as judged by the property (shows in the trace); returns its index. */
  check(): number {
    return this.ctx.check();
  }

  /**
   * Make one call and judge it. Values the trace encoding rejects are rejected before any step (as
   * recording them would); a call that raises is a step too, judged as the judge decides.
   */
  private async judged(inner: Model, call: SurfaceCall): Promise<unknown> {
    checkEncodable((hex) => encodeArgs(call, hex));
    const index = this.steps++;
    const judged = this.judge.judges(call);
    let value: unknown;
    try {
      value = await invoke(inner, call, (lacks) => new Error(`the model has no ${lacks}`));
    } catch (e) {
      if (judged) this.verdict(index, call, this.judge.judge(call, { ok: false, error: e }));
      throw e;
    }
    if (!judged) return value;
    this.verdict(index, call, this.judge.judge(call, { ok: true, value }));
    await this.judge.followUp?.(call, value, this.model);
    return value;
  }

  private verdict(index: number, call: SurfaceCall, failure: Omit<CaseFailure, "step"> | undefined): void {
    if (call.op === "dma") this.ctx.check(index);
    if (failure === undefined) return;
    this.ctx.check(index);
    throw new CaseFailed({ step: index, ...failure });
  }

  private wrap(inner: Model): Model {
    return surfaceModel({
      describe: () => inner.describe(),
      close: () => inner.close(),
      has: (m) => surfaceFunction(inner, m) !== undefined,
      call: (call) => this.judged(inner, call),
    });
  }
}
