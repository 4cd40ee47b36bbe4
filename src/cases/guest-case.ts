/**
 * One oracle-judged case of a guest-side property. Every platform-surface call the case makes
 * goes through `GuestCase.model`: it is counted (the run's recorder records it), fed at once to
 * the case's oracle as the call's own values, and a violation ends the case with the permitted set
 * next to what the model did. After each DMA write the candidates the oracle could not yet tell apart are read back, so
 * every write is judged. [ORACLE-JUDGE-4] [ORACLE-JUDGE-7]
 */

import { checkEncodable } from "../contract/codec.ts";
import { decodeCall, encodeArgs, invoke, type SurfaceCall, surfaceModel } from "../contract/surface.ts";
import type { DmaResult, Model, PlatformConfig } from "../contract/types.ts";
import { isOracleMethod, type OracleMethod, type OracleStep, type Violation } from "../oracle/index.ts";
import { CaseFailed } from "./case-failed.ts";
import { StepOracle, violationReport } from "./guest-case-judge.ts";
import type { PropertyContext } from "./property.ts";

export class GuestCase {
  /** The model to drive: every surface call is counted and judged. */
  readonly model: Model;
  private readonly judge: StepOracle;
  /** Surface calls made so far (the same steps the run's recorder records). */
  private steps = 0;

  constructor(private readonly ctx: Pick<PropertyContext, "model" | "check" | "note" | "tolerance">) {
    this.judge = new StepOracle(undefined, ctx.tolerance);
    this.model = this.wrap(ctx.model);
  }

  /** The case's oracle (after the first reset). */
  get oracle() {
    const o = this.judge.current;
    if (o === undefined) throw new Error("the case has no platform yet: reset first");
    return o;
  }

  /** Steps recorded so far in this case; the index of the next step. */
  get stepCount(): number {
    return this.steps;
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
   * Judge the step just made; a violation ends the case. The step is given as the oracle sees it,
   * built from the call's own values, which the trace encodes (so a replay judges alike).
   */
  private judgeLast(op: OracleStep["op"], step: OracleStep): void {
    const index = this.steps - 1;
    const v: Violation | undefined = this.judge.feedStep(step);
    if (op === "dma") this.ctx.check(index);
    if (v !== undefined) {
      this.ctx.check(index);
      throw new CaseFailed({ step: index, ...violationReport(v) });
    }
  }

  /**
   * Make one call and judge it. A call that raises an error is a step too (the trace records it)
   * but leaves nothing to judge. Values the trace encoding rejects are rejected before any step
   * (as recording them would).
   */
  private async judged(inner: Model, call: SurfaceCall<OracleMethod>): Promise<unknown> {
    let args = call.args;
    // The oracle gets the configuration as a trace carries it (encoded and decoded).
    if (call.op === "reset") args = decodeCall("reset", encodeArgs(call)).args;
    else checkEncodable((hex) => encodeArgs(call, hex));
    this.steps++;
    const value = await invoke(inner, call, (lacks) => new Error(`the model has no ${lacks}`));
    this.judgeLast(call.op, { op: call.op, args, result: value } as OracleStep);
    if (call.op === "dma") {
      const [req] = call.args;
      if (req.write && (value as DmaResult).status === "ok") await this.resolveWrites(req.len);
    }
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

  /** The platform's calls judged; the host surface as it is (guest cases judge no host call). */
  private wrap(inner: Model): Model {
    const model = surfaceModel({
      describe: () => inner.describe(),
      close: () => inner.close(),
      has: isOracleMethod,
      call: (call) => this.judged(inner, call as SurfaceCall<OracleMethod>),
    });
    if (inner.host !== undefined) model.host = inner.host;
    return model;
  }
}
