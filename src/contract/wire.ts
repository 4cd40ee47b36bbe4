/**
 * The JSON shapes of the stdio protocol (schema/protocol.schema.json, docs/protocol.md).
 * The params of a request and the result of its reply are also the `args` and `result`
 * of a trace step, so one encoding serves the wire and the trace files; src/contract/surface.ts
 * converts each surface call to and from them.
 * [HARNESS-PROTO-3] 64-bit values are "0x…" strings; bytes are plain hex strings.
 */
import type { ModelDescription, SurfaceMethod } from "./types.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Protocol version this suite speaks. [HARNESS-PROTO-2] */
export const PROTOCOL_VERSION = 1;

/** "0x" + 1..16 lowercase hex digits, canonical (no leading zeros). */
export type Hex64 = string;
/** Two lowercase hex digits a byte, no prefix. */
export type HexBytes = string;

/** Every method of the protocol: the handshake, describe and close, and the surface calls. */
export type Method = "hello" | "describe" | "close" | SurfaceMethod;

export interface WireDmaRequest {
  sid: number;
  pasid?: number;
  priv?: boolean;
  iova: Hex64;
  len: number;
  write: boolean;
  data?: HexBytes;
}

export interface WireHostDmaRequest {
  devId: number;
  pasid?: number;
  /** Supervisor request; only with a PASID. */
  priv?: boolean;
  iova: Hex64;
  len: number;
  write: boolean;
  data?: HexBytes;
}

export type WireDmaResult = { status: "ok"; data?: HexBytes } | { status: "aborted" };

export interface WireHostView {
  attachments: Array<{
    sid: number;
    pasid?: number;
    hwptId: number;
    kind: "paging" | "nested";
    stage1?: Hex64;
  }>;
  nonCoherentDma?: boolean;
}

export interface WireIoctlResult {
  errno: number;
  bytes: HexBytes;
  out?: Record<Hex64, HexBytes>;
}

/** Params of each method, as sent. */
export interface ParamsOf {
  hello: { protocol: number; suite: string };
  describe: Record<string, never>;
  reset: { config: Json };
  writeGuest: { gpa: Hex64; data: HexBytes };
  readGuest: { gpa: Hex64; len: number };
  writeReg: { off: number; value: Hex64; width: 4 | 8 };
  readReg: { off: number; width: 4 | 8 };
  dma: WireDmaRequest;
  hostView: Record<string, never>;
  ioctl: { cmd: number; bytes: HexBytes; buffers?: Record<Hex64, HexBytes> };
  /** A VFIO device ioctl, issued on the file of the host device devId. */
  deviceIoctl: { devId: number; cmd: number; bytes: HexBytes };
  hostDma: WireHostDmaRequest;
  close: Record<string, never>;
}

/** Result of each method, as replied. */
export interface ResultOf {
  hello: { protocol: number; description: ModelDescription };
  describe: ModelDescription;
  reset: null;
  writeGuest: null;
  readGuest: { data: HexBytes };
  writeReg: null;
  readReg: { value: Hex64 };
  dma: WireDmaResult;
  hostView: WireHostView;
  ioctl: WireIoctlResult;
  deviceIoctl: WireIoctlResult;
  hostDma: WireDmaResult;
  close: null;
}

/** Error codes of a reply with ok = false. [HARNESS-PROTO-5] */
export type ErrorCode =
  | "rejected"
  | "unsupported"
  | "invalid-request"
  | "unknown-method"
  | "not-ready"
  | "version-mismatch"
  | "internal";

export interface WireRequest<M extends Method = Method> {
  id: number;
  method: M;
  params: ParamsOf[M];
}

export type WireReply =
  | { id: number | null; ok: true; result: Json }
  | { id: number | null; ok: false; error: { code: ErrorCode; message: string } };
