/**
 * The surface described once: every call that reaches a model's surfaces, where it lives on a
 * Model, and how its arguments and result travel as JSON (the stdio protocol's params and result,
 * which are also a trace step's args and result). The recorder, the stdio client and server,
 * trace replay, the judges' step views and the protocol schema's method list are all built from
 * this table, so a new surface call is one entry here (plus its JSON shapes in wire.ts and
 * schema/protocol.schema.json, which a test checks against this table). [HARNESS-PROTO-3]
 */

import {
  decodeBufferMap,
  decodeConfig,
  decodeDmaRequest,
  decodeDmaResult,
  decodeHostDmaRequest,
  decodeHostView,
  decodeIoctlResult,
  encodeBufferMap,
  encodeConfig,
  encodeDmaRequest,
  encodeDmaResult,
  encodeHostDmaRequest,
  encodeHostView,
  encodeIoctlResult,
  HEX,
  type HexEncoder,
  hexToBytes,
  hexToU64,
} from "./codec.ts";
import type { Model, ModelDescription, PasidTag, SurfaceFunctions, SurfaceMethod } from "./types.ts";
import type { Json, Method, ParamsOf, ResultOf } from "./wire.ts";

export type { SurfaceMethod } from "./types.ts";

/** A call's arguments, as the contract's values. */
export type ArgsOf<M extends SurfaceMethod> = Parameters<SurfaceFunctions[M]>;
/** What a call gives back, as the contract's values (void for calls that give nothing). */
export type ValueOf<M extends SurfaceMethod> = Awaited<ReturnType<SurfaceFunctions[M]>>;

/** One surface call, decoded. */
export type SurfaceCall<M extends SurfaceMethod = SurfaceMethod> = {
  [K in M]: { op: K; args: ArgsOf<K> };
}[M];

/** One surface call with what it gave, decoded (`result` only for calls that give something). */
export type SurfaceStep<M extends SurfaceMethod = SurfaceMethod> = {
  [K in M]: { op: K; args: ArgsOf<K> } & (ValueOf<K> extends void
    ? { result?: undefined }
    : { result: ValueOf<K> });
}[M];

/** How one surface call is reached on a Model and travels as JSON. */
export interface SurfaceEntry<M extends SurfaceMethod> {
  /** The object of a Model that holds it, and its name there. */
  on: "model" | "platform" | "host";
  name: string;
  /** For an optional call: what a model without it lacks (for "unsupported" errors). */
  lacks: string;
  /** For an optional call: the flag of a model's description that says it offers it. */
  offered?: "hostView" | "hostSurface";
  encodeArgs(args: ArgsOf<M>, hex?: HexEncoder): ParamsOf[M];
  decodeArgs(params: ParamsOf[M]): ArgsOf<M>;
  encodeResult(value: ValueOf<M>, hex?: HexEncoder): ResultOf[M];
  decodeResult(wire: ResultOf[M]): ValueOf<M>;
}

const nothing = { encodeResult: (): null => null, decodeResult: (): void => undefined };
const noParams = { encodeArgs: (): Record<string, never> => ({}), decodeArgs: (): [] => [] };

/** Every surface call, in protocol order. */
export const SURFACE: { readonly [M in SurfaceMethod]: SurfaceEntry<M> } = {
  reset: {
    on: "model",
    name: "reset",
    lacks: "reset",
    encodeArgs: ([config], hex = HEX) => ({ config: encodeConfig(config, hex) }),
    decodeArgs: (p) => [decodeConfig(p.config)],
    ...nothing,
  },
  writeGuest: {
    on: "platform",
    name: "writeGuest",
    lacks: "writeGuest",
    encodeArgs: ([gpa, bytes], hex = HEX) => ({ gpa: hex.u64(gpa), data: hex.bytes(bytes) }),
    decodeArgs: (p) => [hexToU64(p.gpa), hexToBytes(p.data)],
    ...nothing,
  },
  readGuest: {
    on: "platform",
    name: "readGuest",
    lacks: "readGuest",
    encodeArgs: ([gpa, len], hex = HEX) => ({ gpa: hex.u64(gpa), len }),
    decodeArgs: (p) => [hexToU64(p.gpa), p.len],
    encodeResult: (data, hex = HEX) => ({ data: hex.bytes(data) }),
    decodeResult: (r) => hexToBytes(r.data),
  },
  writeReg: {
    on: "platform",
    name: "writeReg",
    lacks: "writeReg",
    encodeArgs: ([off, value, width], hex = HEX) => ({ off, value: hex.u64(value), width }),
    decodeArgs: (p) => [p.off, hexToU64(p.value), p.width],
    ...nothing,
  },
  readReg: {
    on: "platform",
    name: "readReg",
    lacks: "readReg",
    encodeArgs: ([off, width]) => ({ off, width }),
    decodeArgs: (p) => [p.off, p.width],
    encodeResult: (value, hex = HEX) => ({ value: hex.u64(value) }),
    decodeResult: (r) => hexToU64(r.value),
  },
  dma: {
    on: "platform",
    name: "dma",
    lacks: "dma",
    encodeArgs: ([req], hex = HEX) => encodeDmaRequest(req, hex),
    decodeArgs: (p) => [decodeDmaRequest(p)],
    encodeResult: (r, hex = HEX) => encodeDmaResult(r, hex),
    decodeResult: (r) => decodeDmaResult(r),
  },
  hostView: {
    on: "platform",
    name: "hostView",
    lacks: "hostView",
    offered: "hostView",
    ...noParams,
    encodeResult: (v, hex = HEX) => encodeHostView(v, hex),
    decodeResult: (r) => decodeHostView(r),
  },
  ioctl: {
    on: "host",
    name: "ioctl",
    lacks: "host surface",
    offered: "hostSurface",
    encodeArgs: ([cmd, bytes, buffers], hex = HEX) => {
      const out: ParamsOf["ioctl"] = { cmd, bytes: hex.bytes(bytes) };
      if (buffers !== undefined) out.buffers = encodeBufferMap(buffers, hex);
      return out;
    },
    decodeArgs: (p) => [
      p.cmd,
      hexToBytes(p.bytes),
      p.buffers === undefined ? undefined : decodeBufferMap(p.buffers),
    ],
    encodeResult: (r, hex = HEX) => encodeIoctlResult(r, hex),
    decodeResult: (r) => decodeIoctlResult(r),
  },
  deviceIoctl: {
    on: "host",
    name: "deviceIoctl",
    lacks: "VFIO device ioctls",
    offered: "hostSurface",
    encodeArgs: ([devId, cmd, bytes], hex = HEX) => ({ devId, cmd, bytes: hex.bytes(bytes) }),
    decodeArgs: (p) => [p.devId, p.cmd, hexToBytes(p.bytes)],
    encodeResult: (r, hex = HEX) => encodeIoctlResult(r, hex),
    decodeResult: (r) => decodeIoctlResult(r),
  },
  hostDma: {
    on: "host",
    name: "dma",
    lacks: "host surface",
    offered: "hostSurface",
    encodeArgs: ([req], hex = HEX) => encodeHostDmaRequest(req, hex),
    decodeArgs: (p) => [decodeHostDmaRequest(p)],
    encodeResult: (r, hex = HEX) => encodeDmaResult(r, hex),
    decodeResult: (r) => decodeDmaResult(r),
  },
};

/** The surface calls, in protocol order. */
export const SURFACE_METHODS = Object.keys(SURFACE) as SurfaceMethod[];

/** Every protocol method: the handshake and describe, the surface calls, close. */
export const METHODS: readonly Method[] = ["hello", "describe", ...SURFACE_METHODS, "close"];

export function isSurfaceMethod(method: string): method is SurfaceMethod {
  return Object.hasOwn(SURFACE, method);
}

/** The entry of a method, typed loosely for code that handles every method alike. */
function entry(method: SurfaceMethod): SurfaceEntry<SurfaceMethod> {
  return SURFACE[method] as unknown as SurfaceEntry<SurfaceMethod>;
}

// ---------------------------------------------------------------------------
// Encoding and decoding whole calls (the JSON of a request, a reply, a trace step)

export function encodeArgs(call: SurfaceCall, hex: HexEncoder = HEX): Json {
  return entry(call.op).encodeArgs(call.args as never, hex) as unknown as Json;
}

export function decodeCall<M extends SurfaceMethod>(op: M, params: Json): SurfaceCall<M> {
  return { op, args: entry(op).decodeArgs(params as never) } as SurfaceCall<M>;
}

export function encodeResult(op: SurfaceMethod, value: unknown, hex: HexEncoder = HEX): Json {
  return entry(op).encodeResult(value as never, hex) as unknown as Json;
}

export function decodeResult<M extends SurfaceMethod>(op: M, result: Json): ValueOf<M> {
  return entry(op).decodeResult(result as never) as ValueOf<M>;
}

/** A call and its JSON result as the decoded step. */
export function decodeStep<M extends SurfaceMethod>(op: M, params: Json, result: Json): SurfaceStep<M> {
  return { op, args: entry(op).decodeArgs(params as never), result: decodeResult(op, result) } as never;
}

// ---------------------------------------------------------------------------
// Calls on a Model, and Models made of calls

/** The object of `model` that holds `method`'s function (undefined: the model has no host). */
function holderOf(model: Model, method: SurfaceMethod): Record<string, unknown> | undefined {
  const on = entry(method).on;
  const holder = on === "model" ? model : on === "platform" ? model.platform : model.host;
  return holder as unknown as Record<string, unknown> | undefined;
}

/** The function a model offers for `method` (bound to its object), or undefined if it has none. */
export function surfaceFunction<M extends SurfaceMethod>(
  model: Model,
  method: M,
): SurfaceFunctions[M] | undefined {
  const holder = holderOf(model, method);
  const f = holder?.[entry(method).name];
  return typeof f === "function" ? (f.bind(holder) as SurfaceFunctions[M]) : undefined;
}

/**
 * Make `call` on `model`; `missing` gives the error for a model without it (the message names
 * what it lacks: "hostView", "host surface", "VFIO device ioctls").
 */
export function invoke(model: Model, call: SurfaceCall, missing: (lacks: string) => Error): Promise<unknown> {
  const e = entry(call.op);
  const holder = holderOf(model, call.op);
  const f = holder?.[e.name];
  if (typeof f !== "function") throw missing(e.lacks);
  return (f as (...args: unknown[]) => Promise<unknown>).apply(holder, call.args as unknown[]);
}

/** Whether a model with this description offers `method`. */
export function offers(description: ModelDescription, method: SurfaceMethod): boolean {
  const flag = entry(method).offered;
  return flag === undefined || description.supports[flag];
}

/** What a Model built of calls (`surfaceModel`) has besides them. */
export interface SurfaceModelParts {
  describe: Model["describe"];
  close: Model["close"];
  /** Whether the model offers `method`; asked once for each, when the model is built. */
  has(method: SurfaceMethod): boolean;
  /** Make one call. */
  call(call: SurfaceCall): Promise<unknown>;
}

/**
 * A Model whose every surface call goes through `parts.call`: wrappers (the trace recorder, a
 * judged case) and proxies (the stdio client) are built this way. It has a host surface when it
 * has any host call.
 */
export function surfaceModel(parts: SurfaceModelParts): Model {
  const platform: Record<string, unknown> = {};
  const host: Record<string, unknown> = {};
  const model: Record<string, unknown> = { describe: parts.describe, close: parts.close };
  for (const method of SURFACE_METHODS) {
    if (!parts.has(method)) continue;
    const e = entry(method);
    const holder = e.on === "model" ? model : e.on === "platform" ? platform : host;
    holder[e.name] = (...args: unknown[]) => parts.call({ op: method, args } as SurfaceCall);
  }
  model.platform = platform;
  if (Object.keys(host).length > 0) model.host = host;
  return model as unknown as Model;
}

/** The PASID members of a request: none when `pasid` is undefined (types.ts, PasidTag). */
export function pasidTag(pasid: number | undefined, priv?: boolean): PasidTag {
  if (pasid === undefined) return {};
  return priv === undefined ? { pasid } : { pasid, priv };
}
