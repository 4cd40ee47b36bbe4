/**
 * TraceRecorder wraps a Model so that every surface call is recorded as a trace step, in
 * call order, with its encoded arguments and outcome; describe and close are not steps.
 * Arguments are captured before the call (bytes copied), so a caller reusing its buffers cannot
 * change what was recorded. A call that throws is recorded with its error, then rethrown.
 * [HARNESS-TRACE-2] The hex text of bytes and 64-bit values is made when the steps are read
 * (`steps`, `toTrace`), not at each call: most runs never write a trace.
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
} from "../contract/codec.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import type {
  DmaRequest,
  DmaResult,
  HostSurface,
  Model,
  PlatformConfig,
  PlatformSurface,
} from "../contract/types.ts";
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
    const reset = this.recorded.find((s) => s.op === "reset");
    return reset === undefined ? undefined : (reset.args as ParamsOf["reset"]).config;
  }

  private async record<T>(
    op: TraceStep["op"],
    args: Json | Later,
    run: () => Promise<T>,
    encode: (value: T) => Json | Later,
  ): Promise<T> {
    const step = { op, args: args instanceof Later ? null : args, result: null } as TraceStep;
    if (args instanceof Later)
      this.later.push(() => {
        step.args = args.encode();
      });
    this.recorded.push(step);
    try {
      const value = await run();
      const result = encode(value);
      if (result instanceof Later)
        this.later.push(() => {
          step.result = result.encode();
        });
      else step.result = result;
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
        this.record("writeGuest", writeGuestArgs(gpa, bytes), () => p.writeGuest(gpa, bytes), none),
      readGuest: (gpa, len) =>
        this.record(
          "readGuest",
          isU64(gpa) ? new Later(() => ({ gpa: u64ToHex(gpa), len })) : { gpa: u64ToHex(gpa), len },
          () => p.readGuest(gpa, len),
          bytesResult,
        ),
      writeReg: (off, value, width) =>
        this.record(
          "writeReg",
          isU64(value)
            ? new Later(() => ({ off, value: u64ToHex(value), width }))
            : { off, value: u64ToHex(value), width },
          () => p.writeReg(off, value, width),
          none,
        ),
      readReg: (off, width) =>
        this.record(
          "readReg",
          { off, width },
          () => p.readReg(off, width),
          (value) =>
            isU64(value) ? new Later(() => ({ value: u64ToHex(value) })) : { value: u64ToHex(value) },
        ),
      dma: (req) => this.record("dma", dmaArgs(req), () => p.dma(req), dmaResult),
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

/**
 * An encoding made when the step is first read [HARNESS-TRACE-2]. Only values the codec encodes
 * without throwing are deferred (with private copies of their bytes); anything else is encoded at
 * once, so a bad value fails where it always did.
 */
class Later {
  constructor(readonly encode: () => Json) {}
}

/** Values the codec encodes without throwing. */
function isU64(v: unknown): v is bigint {
  return typeof v === "bigint" && v >= 0n && v < 1n << 64n;
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

function writeGuestArgs(gpa: bigint, bytes: Uint8Array): Json | Later {
  if (!isU64(gpa) || !(bytes instanceof Uint8Array)) return { gpa: u64ToHex(gpa), data: bytesToHex(bytes) };
  const data = keepBytes(bytes);
  return new Later(() => ({ gpa: u64ToHex(gpa), data: bytesToHex(data) }));
}

function bytesResult(bytes: Uint8Array): Json | Later {
  if (!(bytes instanceof Uint8Array)) return { data: bytesToHex(bytes) };
  const data = keepBytes(bytes);
  return new Later(() => ({ data: bytesToHex(data) }));
}

function dmaArgs(req: DmaRequest): Json | Later {
  if (!isU64(req.iova) || !(req.data === undefined || req.data instanceof Uint8Array))
    return encodeDmaRequest(req) as unknown as Json;
  const copy: DmaRequest = { sid: req.sid, iova: req.iova, len: req.len, write: req.write };
  if (req.pasid !== undefined) copy.pasid = req.pasid;
  if (req.priv !== undefined) copy.priv = req.priv;
  if (req.data !== undefined) copy.data = keepBytes(req.data);
  return new Later(() => encodeDmaRequest(copy) as unknown as Json);
}

function dmaResult(r: DmaResult): Json | Later {
  if (r === null || typeof r !== "object" || r.status !== "ok" || r.data === undefined)
    return encodeDmaResult(r) as unknown as Json;
  if (!(r.data instanceof Uint8Array)) return encodeDmaResult(r) as unknown as Json;
  const data = keepBytes(r.data);
  return new Later(() => encodeDmaResult({ status: "ok", data }) as unknown as Json);
}
