/**
 * TraceRecorder wraps a Model so that every surface call is recorded as a trace step, in
 * call order, with its encoded arguments and outcome; describe and close are not steps.
 * The wrapper is built from the surface table (src/contract/surface.ts). Arguments are captured
 * before the call (bytes copied), so a caller reusing its buffers cannot change what was recorded.
 * A call that throws is recorded with its error, then rethrown.
 * [HARNESS-TRACE-2] The hex text of bytes and 64-bit values is made when the steps are read
 * (`steps`, `toTrace`), not at each call: most runs never write a trace.
 */

import { checkEncodable, encodeConfig, type HexEncoder, keepValues } from "../contract/codec.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import {
  encodeArgs,
  encodeResult,
  invoke,
  type SurfaceCall,
  surfaceFunction,
  surfaceModel,
} from "../contract/surface.ts";
import type { Model, PlatformConfig } from "../contract/types.ts";
import type { Json, ParamsOf } from "../contract/wire.ts";
import { PageArena } from "../memory/page-arena.ts";
import { errorOutcome } from "./calls.ts";
import {
  TRACE_FORMAT,
  TRACE_VERSION,
  type Trace,
  type TraceFailure,
  type TraceStep,
  type Verdict,
} from "./types.ts";

export interface TraceMeta {
  property: string;
  adapter: string;
  seed: number;
  path: string;
  verdict: Verdict;
  failure?: TraceFailure;
  /** Defaults to the config of the first reset step. */
  config?: PlatformConfig;
}

export class TraceRecorder {
  /** The wrapped model: use it in place of the inner one. */
  readonly model: Model;
  private recorded: TraceStep[] = [];
  /** Encodings not made yet: each fills in its step's args or result. */
  private later: Array<() => void> = [];
  private notes: string[] = [];

  constructor(readonly inner: Model) {
    this.model = this.wrap(inner);
  }

  /** The steps so far, every one encoded. */
  get steps(): readonly TraceStep[] {
    this.encodePending();
    return this.recorded;
  }

  /** How many steps were recorded (without encoding them). */
  get stepCount(): number {
    return this.recorded.length;
  }

  get commands(): readonly string[] {
    return this.notes;
  }

  /** Forget the steps and commands so far: a new case starts. */
  clear(): void {
    this.recorded = [];
    this.later = [];
    this.notes = [];
  }

  /** A human-readable high-level command, for reports (not replayed). */
  note(command: string): void {
    this.notes.push(command);
  }

  /** Mark a step (default: the last one) as judged by the property. */
  check(index = this.recorded.length - 1): number {
    const step = this.recorded[index];
    if (step === undefined) throw new RangeError(`no step ${index} to mark as checked`);
    step.checked = true;
    return index;
  }

  /** The trace of the steps recorded since the last clear. */
  toTrace(meta: TraceMeta): Trace {
    const config = meta.config === undefined ? this.firstResetConfig() : (encodeConfig(meta.config) as Json);
    if (config === undefined)
      throw new Error("a trace needs a configuration: no reset was recorded and none given");
    const trace: Trace = {
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      suite: suiteVersion(),
      property: meta.property,
      adapter: meta.adapter,
      config,
      seed: meta.seed,
      path: meta.path,
      steps: this.steps.map((s) => ({ ...s })),
      verdict: meta.verdict,
    };
    if (this.notes.length > 0) trace.commands = [...this.notes];
    if (meta.failure !== undefined) trace.failure = meta.failure;
    return trace;
  }

  private encodePending(): void {
    if (this.later.length === 0) return;
    const pending = this.later;
    this.later = [];
    for (const f of pending) f();
  }

  private firstResetConfig(): Json | undefined {
    const reset = this.steps.find((s) => s.op === "reset");
    return reset === undefined ? undefined : (reset.args as ParamsOf["reset"]).config;
  }

  /**
   * Record `call` and make it on the inner model. Its args and result are checked now (a value the
   * encoding rejects fails here, as it always did) and encoded when the steps are read, from
   * private copies of their bytes.
   */
  private record(call: SurfaceCall): Promise<unknown> {
    const step = { op: call.op, args: null, result: null } as TraceStep;
    step.args = this.encodeLater(
      (hex) => encodeArgs(call, hex),
      () => {
        const kept = { op: call.op, args: keepValues(call.args, keepBytes) } as SurfaceCall;
        return () => encodeArgs(kept);
      },
      (json) => {
        step.args = json;
      },
    );
    this.recorded.push(step);
    return this.run(step, call);
  }

  private async run(step: TraceStep, call: SurfaceCall): Promise<unknown> {
    try {
      const value = await invoke(this.inner, call, (lacks) => new Error(`the model has no ${lacks}`));
      step.result = this.encodeLater(
        (hex) => encodeResult(call.op, value, hex),
        () => {
          const kept = keepValues(value, keepBytes);
          return () => encodeResult(call.op, kept);
        },
        (json) => {
          step.result = json;
        },
      );
      return value;
    } catch (e) {
      delete step.result;
      (step as { error?: unknown }).error = errorOutcome(e);
      throw e;
    }
  }

  /**
   * [HARNESS-TRACE-2] The JSON of a value, made now when the value is not plain (so a bad value
   * fails where it always did), else later from a copy: `set` gets it when the steps are read.
   */
  private encodeLater(
    encode: (hex?: HexEncoder) => Json,
    keep: () => () => Json,
    set: (json: Json) => void,
  ): Json {
    if (!checkEncodable(encode)) return encode();
    const later = keep();
    this.later.push(() => set(later()));
    return null;
  }

  private wrap(inner: Model): Model {
    // The calls are looked up at each call: a model may replace its platform on reset.
    return surfaceModel({
      describe: () => inner.describe(),
      close: () => inner.close(),
      has: (method) => surfaceFunction(inner, method) !== undefined,
      call: (call) => this.record(call),
    });
  }
}

/** Where the copies live: many to a buffer (a copy per call, mostly whole pages). */
const copies = new PageArena(64 * 1024, 64 * 1024);

/** A private copy of bytes the caller may reuse (a plain Uint8Array, even from a Buffer). */
function keepBytes(bytes: Uint8Array): Uint8Array {
  const { buffer, byteOffset } = copies.block(Math.ceil(bytes.length / 8) * 8);
  const out = new Uint8Array(buffer, byteOffset, bytes.length);
  out.set(bytes);
  return out;
}
