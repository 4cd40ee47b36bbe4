/**
 * One oracle-judged case of a guest-side property. Every platform-surface call the case makes
 * goes through `GuestCase.model`: it is counted (the run's recorder records it), fed at once to
 * the case's oracle as the call's own values, and a violation ends the case with the permitted set
 * next to what the model did. After each DMA write the candidates the oracle could not yet tell apart are read back, so
 * every write is judged. [ORACLE-JUDGE-4] [ORACLE-JUDGE-7]
 */

import { bytesToHex, decodeConfig, encodeConfig, u64ToHex } from "../contract/codec.ts";
import type { DmaRequest, DmaResult, Model, PlatformConfig, PlatformSurface } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";
import type { OracleStep, Violation } from "../oracle/index.ts";
import { StepOracle, violationReport } from "./guest-case-judge.ts";
import type { CaseFailure, PropertyContext } from "./property.ts";

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
   * but leaves nothing to judge. `encodable` rejects, before any step, the values the trace
   * encoding rejects (as recording them would).
   */
  private async judged<T>(
    op: OracleStep["op"],
    encodable: () => void,
    call: () => Promise<T>,
    step: (value: T) => OracleStep,
  ): Promise<T> {
    encodable();
    this.steps++;
    const value = await call();
    this.judgeLast(op, step(value));
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
          "writeGuest",
          () => {
            u64(gpa);
            bytesOf(bytes);
          },
          () => p().writeGuest(gpa, bytes),
          () => ({ op: "writeGuest", args: [gpa, bytes] }),
        ),
      readGuest: (gpa, len) =>
        this.judged(
          "readGuest",
          () => u64(gpa),
          () => p().readGuest(gpa, len),
          (result) => ({ op: "readGuest", args: [gpa, len], result }),
        ),
      writeReg: (off, value, width) =>
        this.judged(
          "writeReg",
          () => u64(value),
          () => p().writeReg(off, value, width),
          () => ({ op: "writeReg", args: [off, value, width] }),
        ),
      readReg: (off, width) =>
        this.judged(
          "readReg",
          () => undefined,
          () => p().readReg(off, width),
          (result) => ({ op: "readReg", args: [off, width], result }),
        ),
      dma: async (req: DmaRequest): Promise<DmaResult> => {
        const r = await this.judged(
          "dma",
          () => {
            u64(req.iova);
            if (req.data !== undefined) bytesOf(req.data);
          },
          () => p().dma(req),
          (result) => ({ op: "dma", args: [req], result }),
        );
        if (req.write && r.status === "ok") await this.resolveWrites(req.len);
        return r;
      },
    };
    return {
      describe: () => inner.describe(),
      reset: (config) => {
        // The oracle gets the configuration as a trace carries it (encoded and decoded).
        let encoded: Json;
        return this.judged(
          "reset",
          () => {
            encoded = encodeConfig(config);
          },
          () => inner.reset(config),
          () => ({ op: "reset", args: [decodeConfig(encoded)] }),
        );
      },
      platform,
      close: () => inner.close(),
      ...(inner.host === undefined ? {} : { host: inner.host }),
    };
  }
}

/** Throws as the trace encoding would for a value outside u64. */
function u64(v: bigint): void {
  if (typeof v !== "bigint" || v < 0n || v >= 1n << 64n) u64ToHex(v);
}

/** Throws as the trace encoding would for bytes that are not a Uint8Array. */
function bytesOf(b: Uint8Array): void {
  if (!(b instanceof Uint8Array)) bytesToHex(b);
}
