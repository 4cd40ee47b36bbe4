/**
 * One oracle-judged case of a guest-side property. Every platform-surface call the case makes
 * goes through `GuestCase.model`: it is recorded (same step shape as the trace), fed at once to
 * the case's oracle, and a violation ends the case with the permitted set next to what the model
 * did. After each DMA write the candidates the oracle could not yet tell apart are read back, so
 * every write is judged. [ORACLE-JUDGE-4] [ORACLE-JUDGE-7]
 */

import type { OracleStep, Violation } from "../oracle/index.ts";
import type { Json } from "../platform/stdio/wire.ts";
import type { DmaRequest, DmaResult, Model, PlatformConfig, PlatformSurface } from "../platform/types.ts";
import { StepOracle, violationReport } from "./guest-case-judge.ts";
import type { CaseFailure, PropertyContext } from "./property.ts";
import { TraceRecorder } from "./trace/recorder.ts";

/** A case ends early with this: the model did something the property does not permit. */
export class CaseFailed extends Error {
  constructor(readonly failure: CaseFailure) {
    super(failure.message);
    this.name = "CaseFailed";
  }
}

/** Fail the current case (a check of a property beyond the oracle's judgement). */
export function failCase(
  message: string,
  detail: { step?: number; observed?: Json; permitted?: Json } = {},
): never {
  throw new CaseFailed({ message, ...detail });
}

export class GuestCase {
  /** The model to drive: every surface call is recorded and judged. */
  readonly model: Model;
  private readonly recorder: TraceRecorder;
  private readonly judge = new StepOracle();

  constructor(private readonly ctx: Pick<PropertyContext, "model" | "check" | "note">) {
    this.recorder = new TraceRecorder(ctx.model);
    this.model = this.wrap(this.recorder.model);
  }

  /** The case's oracle (after the first reset). */
  get oracle() {
    const o = this.judge.current;
    if (o === undefined) throw new Error("the case has no platform yet: reset first");
    return o;
  }

  /** Steps recorded so far in this case; the index of the next step. */
  get stepCount(): number {
    return this.recorder.steps.length;
  }

  note(command: string): void {
    this.ctx.note(command);
  }

  /** Mark the last step as judged by the property (shows in the trace). */
  check(): number {
    return this.ctx.check();
  }

  async reset(config: PlatformConfig): Promise<void> {
    await this.model.reset(config);
  }

  /**
   * Judge the step just recorded; a violation ends the case. `direct` is the step as the oracle
   * sees it, built from the call's own values (the recorded step decodes to the same).
   */
  private judgeLast(direct?: OracleStep): void {
    const index = this.recorder.steps.length - 1;
    const step = this.recorder.steps[index];
    if (step === undefined) return;
    let v: Violation | undefined;
    if (direct !== undefined && step.error === undefined) v = this.judge.feedStep(direct);
    else {
      const outcome = step.error !== undefined ? { error: step.error } : { result: step.result as Json };
      v = this.judge.feed(step, outcome);
    }
    if (step.op === "dma") this.ctx.check(index);
    if (v !== undefined) {
      this.ctx.check(index);
      throw new CaseFailed({ step: index, ...violationReport(v) });
    }
  }

  private async judged<T>(call: () => Promise<T>, direct?: (value: T) => OracleStep): Promise<T> {
    const value = await call();
    this.judgeLast(direct?.(value));
    return value;
  }

  /** Read back every candidate landing place of unresolved DMA writes. */
  private async resolveWrites(len: number): Promise<void> {
    const pending = this.judge.current?.unresolvedWrites ?? [];
    const seen = new Set<number>();
    for (const w of pending)
      for (const c of w.candidates) {
        if (seen.has(c)) continue;
        seen.add(c);
        await this.model.platform.readGuest(BigInt(c), len);
      }
  }

  private wrap(inner: Model): Model {
    const p = (): PlatformSurface => inner.platform;
    const platform: PlatformSurface = {
      writeGuest: (gpa, bytes) =>
        this.judged(
          () => p().writeGuest(gpa, bytes),
          () => ({ op: "writeGuest", args: [gpa, bytes] }),
        ),
      readGuest: (gpa, len) =>
        this.judged(
          () => p().readGuest(gpa, len),
          (result) => ({ op: "readGuest", args: [gpa, len], result }),
        ),
      writeReg: (off, value, width) =>
        this.judged(
          () => p().writeReg(off, value, width),
          () => ({ op: "writeReg", args: [off, value, width] }),
        ),
      readReg: (off, width) =>
        this.judged(
          () => p().readReg(off, width),
          (result) => ({ op: "readReg", args: [off, width], result }),
        ),
      dma: async (req: DmaRequest): Promise<DmaResult> => {
        const r = await this.judged(
          () => p().dma(req),
          (result) => ({ op: "dma", args: [req], result }),
        );
        if (req.write && r.status === "ok") await this.resolveWrites(req.len);
        return r;
      },
    };
    return {
      describe: () => inner.describe(),
      reset: (config) => this.judged(() => inner.reset(config)),
      platform,
      close: () => inner.close(),
      ...(inner.host === undefined ? {} : { host: inner.host }),
    };
  }
}
