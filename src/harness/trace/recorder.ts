/**
 * TraceRecorder wraps a Model so that every surface call is recorded as a trace step, in
 * call order, with its encoded arguments and outcome; describe and close are not steps.
 * Arguments are encoded before the call, so a caller reusing its buffers cannot change
 * what was recorded. A call that throws is recorded with its error, then rethrown. [HARNESS-TRACE-2]
 */
import {
  bytesToHex,
  encodeBufferMap,
  encodeConfig,
  encodeDmaRequest,
  encodeDmaResult,
  encodeHostDmaRequest,
  encodeHostView,
  encodeIoctlResult,
  u64ToHex,
} from "../../platform/stdio/codec.ts";
import { suiteVersion } from "../../platform/stdio/suite-version.ts";
import type { Json, ParamsOf } from "../../platform/stdio/wire.ts";
import type { HostSurface, Model, PlatformConfig, PlatformSurface } from "../../platform/types.ts";
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
  private notes: string[] = [];

  constructor(readonly inner: Model) {
    this.model = this.wrap(inner);
  }

  get steps(): readonly TraceStep[] {
    return this.recorded;
  }

  get commands(): readonly string[] {
    return this.notes;
  }

  /** Forget the steps and commands so far: a new case starts. */
  clear(): void {
    this.recorded = [];
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
      steps: this.recorded.map((s) => ({ ...s })),
      verdict: meta.verdict,
    };
    if (this.notes.length > 0) trace.commands = [...this.notes];
    if (meta.failure !== undefined) trace.failure = meta.failure;
    return trace;
  }

  private firstResetConfig(): Json | undefined {
    const reset = this.recorded.find((s) => s.op === "reset");
    return reset === undefined ? undefined : (reset.args as ParamsOf["reset"]).config;
  }

  private async record<T>(
    op: TraceStep["op"],
    args: Json,
    run: () => Promise<T>,
    encode: (value: T) => Json,
  ): Promise<T> {
    const step = { op, args, result: null } as TraceStep;
    this.recorded.push(step);
    try {
      const value = await run();
      step.result = encode(value);
      return value;
    } catch (e) {
      delete step.result;
      (step as { error?: unknown }).error = errorOutcome(e);
      throw e;
    }
  }

  private wrap(inner: Model): Model {
    // The platform is looked up at each call: a model may replace it on reset (the reference does).
    const p = {
      writeGuest: (gpa: bigint, bytes: Uint8Array) => inner.platform.writeGuest(gpa, bytes),
      readGuest: (gpa: bigint, len: number) => inner.platform.readGuest(gpa, len),
      writeReg: (off: number, value: bigint, width: 4 | 8) => inner.platform.writeReg(off, value, width),
      readReg: (off: number, width: 4 | 8) => inner.platform.readReg(off, width),
      dma: (req: Parameters<PlatformSurface["dma"]>[0]) => inner.platform.dma(req),
      hostView: inner.platform.hostView?.bind(inner.platform),
    };
    const none = (): Json => null;
    const platform: PlatformSurface = {
      writeGuest: (gpa, bytes) =>
        this.record(
          "writeGuest",
          { gpa: u64ToHex(gpa), data: bytesToHex(bytes) },
          () => p.writeGuest(gpa, bytes),
          none,
        ),
      readGuest: (gpa, len) =>
        this.record(
          "readGuest",
          { gpa: u64ToHex(gpa), len },
          () => p.readGuest(gpa, len),
          (data) => ({
            data: bytesToHex(data),
          }),
        ),
      writeReg: (off, value, width) =>
        this.record(
          "writeReg",
          { off, value: u64ToHex(value), width },
          () => p.writeReg(off, value, width),
          none,
        ),
      readReg: (off, width) =>
        this.record(
          "readReg",
          { off, width },
          () => p.readReg(off, width),
          (value) => ({ value: u64ToHex(value) }),
        ),
      dma: (req) =>
        this.record(
          "dma",
          encodeDmaRequest(req) as unknown as Json,
          () => p.dma(req),
          (r) => encodeDmaResult(r) as unknown as Json,
        ),
    };
    const hostView = p.hostView?.bind(p);
    if (hostView !== undefined) {
      platform.hostView = () =>
        this.record("hostView", {}, hostView, (v) => encodeHostView(v) as unknown as Json);
    }
    const model: Model = {
      describe: () => inner.describe(),
      reset: (config) =>
        this.record("reset", { config: encodeConfig(config) }, () => inner.reset(config), none),
      platform,
      close: () => inner.close(),
    };
    const h = inner.host;
    if (h !== undefined) {
      const host: HostSurface = {
        ioctl: (cmd, bytes, buffers) => {
          const args: Record<string, Json> = { cmd, bytes: bytesToHex(bytes) };
          if (buffers !== undefined) args.buffers = encodeBufferMap(buffers);
          return this.record(
            "ioctl",
            args,
            () => h.ioctl(cmd, bytes, buffers),
            (r) => encodeIoctlResult(r) as unknown as Json,
          );
        },
        dma: (req) =>
          this.record(
            "hostDma",
            encodeHostDmaRequest(req) as unknown as Json,
            () => h.dma(req),
            (r) => encodeDmaResult(r) as unknown as Json,
          ),
      };
      const deviceIoctl = h.deviceIoctl?.bind(h);
      if (deviceIoctl !== undefined) {
        host.deviceIoctl = (devId, cmd, bytes) =>
          this.record(
            "deviceIoctl",
            { devId, cmd, bytes: bytesToHex(bytes) },
            () => deviceIoctl(devId, cmd, bytes),
            (r) => encodeIoctlResult(r) as unknown as Json,
          );
      }
      model.host = host;
    }
    return model;
  }
}
