/**
 * Conversions between the adapter contract's values (bigint, Uint8Array) and their JSON
 * encoding on the wire and in traces. [HARNESS-PROTO-3]
 */
import type {
  DmaRequest,
  DmaResult,
  HostDmaRequest,
  HostView,
  IoctlResult,
  MemoryRegion,
  PlatformConfig,
} from "./types.ts";
import type {
  Hex64,
  HexBytes,
  Json,
  WireDmaRequest,
  WireDmaResult,
  WireHostDmaRequest,
  WireHostView,
  WireIoctlResult,
} from "./wire.ts";

const U64_LIMIT = 1n << 64n;
const HEX64 = /^0x(0|[1-9a-f][0-9a-f]{0,15})$/;
/** A character that is not a lowercase hex digit (a linear scan: no group repeated per byte). */
const NOT_HEX = /[^0-9a-f]/;

/** Canonical "0x…" form of an unsigned 64-bit value. */
export function u64ToHex(value: bigint): Hex64 {
  if (!isU64(value)) {
    throw new RangeError(`not an unsigned 64-bit value: ${String(value)}`);
  }
  return `0x${value.toString(16)}`;
}

export function hexToU64(text: Hex64): bigint {
  if (typeof text !== "string" || !HEX64.test(text)) {
    throw new RangeError(`not a canonical 64-bit hex value: ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}

export function bytesToHex(bytes: Uint8Array): HexBytes {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes of a hex byte string; any length the protocol allows (16 MiB and more). */
export function hexToBytes(text: HexBytes): Uint8Array {
  if (typeof text !== "string" || text.length % 2 !== 0 || NOT_HEX.test(text)) {
    throw new RangeError(`not a hex byte string: ${JSON.stringify(String(text).slice(0, 40))}`);
  }
  return new Uint8Array(Buffer.from(text, "hex"));
}

function isU64(v: unknown): v is bigint {
  return typeof v === "bigint" && v >= 0n && v < U64_LIMIT;
}

/**
 * How the encoders below write 64-bit values and bytes. HEX writes the text; a checking encoder
 * (`checkEncodable`) only checks that it could, so the text of a call can be made later.
 */
export interface HexEncoder {
  u64(value: bigint): Hex64;
  bytes(bytes: Uint8Array): HexBytes;
}

export const HEX: HexEncoder = { u64: u64ToHex, bytes: bytesToHex };

/**
 * Run `encode` without making any hex text: throws exactly where encoding with HEX throws.
 * True when every 64-bit value is a bigint in range and every byte string a Uint8Array, so the
 * encoding may be made later from copies (`keepValues`) and give the same text.
 */
export function checkEncodable(encode: (hex: HexEncoder) => unknown): boolean {
  checked.plain = true;
  encode(checked);
  return checked.plain;
}

/** The checking encoder (one for all: encoding is synchronous). */
const checked: HexEncoder & { plain: boolean } = {
  plain: true,
  u64(value) {
    if (!isU64(value)) {
      checked.plain = false;
      u64ToHex(value);
    }
    return "";
  },
  bytes(bytes) {
    if (!(bytes instanceof Uint8Array)) {
      checked.plain = false;
      bytesToHex(bytes);
    }
    return "";
  },
};

/**
 * A copy of a call's values whose byte strings the caller can no longer change: arrays and plain
 * objects copied, each Uint8Array copied by `copyBytes` (a plain Uint8Array, even from a Buffer).
 */
export function keepValues<T>(value: T, copyBytes: (bytes: Uint8Array) => Uint8Array): T {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) return copyBytes(value) as T;
  if (Array.isArray(value)) return value.map((v) => keepValues(v, copyBytes)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = keepValues(v, copyBytes);
  return out as T;
}

// ---------------------------------------------------------------------------
// Platform configuration: only the memory map holds bigints.

export function encodeConfig(config: PlatformConfig, hex: HexEncoder = HEX): Json {
  return {
    ...(config as unknown as Record<string, Json>),
    memory: {
      ...(config.memory as unknown as Record<string, Json>),
      size: hex.u64(config.memory.size),
      regions: config.memory.regions.map((r) => ({
        ...(r as unknown as Record<string, Json>),
        gpa: hex.u64(r.gpa),
        size: hex.u64(r.size),
      })),
    },
  };
}

interface WireConfig {
  memory: { size: Hex64; regions: Array<{ gpa: Hex64; size: Hex64; readOnly: boolean }> };
}

/** The config must have passed the schema. */
export function decodeConfig(json: Json): PlatformConfig {
  const wire = json as unknown as WireConfig & Record<string, unknown>;
  return {
    ...(wire as unknown as PlatformConfig),
    memory: {
      ...(wire.memory as unknown as PlatformConfig["memory"]),
      size: hexToU64(wire.memory.size),
      regions: wire.memory.regions.map(
        (r): MemoryRegion => ({ ...r, gpa: hexToU64(r.gpa), size: hexToU64(r.size) }),
      ),
    },
  };
}

// ---------------------------------------------------------------------------
// DMA

export function encodeDmaRequest(req: DmaRequest, hex: HexEncoder = HEX): WireDmaRequest {
  const out: WireDmaRequest = { sid: req.sid, iova: hex.u64(req.iova), len: req.len, write: req.write };
  if (req.pasid !== undefined) out.pasid = req.pasid;
  if (req.priv !== undefined) out.priv = req.priv;
  if (req.data !== undefined) out.data = hex.bytes(req.data);
  return out;
}

export function decodeDmaRequest(wire: WireDmaRequest): DmaRequest {
  const out: DmaRequest = { sid: wire.sid, iova: hexToU64(wire.iova), len: wire.len, write: wire.write };
  if (wire.pasid !== undefined) out.pasid = wire.pasid;
  if (wire.priv !== undefined) out.priv = wire.priv;
  if (wire.data !== undefined) out.data = hexToBytes(wire.data);
  return out;
}

export function encodeHostDmaRequest(req: HostDmaRequest, hex: HexEncoder = HEX): WireHostDmaRequest {
  const out: WireHostDmaRequest = {
    devId: req.devId,
    iova: hex.u64(req.iova),
    len: req.len,
    write: req.write,
  };
  if (req.pasid !== undefined) out.pasid = req.pasid;
  if (req.priv !== undefined) out.priv = req.priv;
  if (req.data !== undefined) out.data = hex.bytes(req.data);
  return out;
}

export function decodeHostDmaRequest(wire: WireHostDmaRequest): HostDmaRequest {
  const out: HostDmaRequest = {
    devId: wire.devId,
    iova: hexToU64(wire.iova),
    len: wire.len,
    write: wire.write,
  };
  if (wire.pasid !== undefined) out.pasid = wire.pasid;
  if (wire.priv !== undefined) out.priv = wire.priv;
  if (wire.data !== undefined) out.data = hexToBytes(wire.data);
  return out;
}

export function encodeDmaResult(result: DmaResult, hex: HexEncoder = HEX): WireDmaResult {
  if (result.status === "aborted") return { status: "aborted" };
  return result.data === undefined ? { status: "ok" } : { status: "ok", data: hex.bytes(result.data) };
}

export function decodeDmaResult(wire: WireDmaResult): DmaResult {
  if (wire.status === "aborted") return { status: "aborted" };
  return wire.data === undefined ? { status: "ok" } : { status: "ok", data: hexToBytes(wire.data) };
}

// ---------------------------------------------------------------------------
// Host view and ioctls

export function encodeHostView(view: HostView, hex: HexEncoder = HEX): WireHostView {
  return {
    attachments: view.attachments.map((a) => {
      const out: WireHostView["attachments"][number] = { sid: a.sid, hwptId: a.hwptId, kind: a.kind };
      if (a.pasid !== undefined) out.pasid = a.pasid;
      if (a.stage1 !== undefined) out.stage1 = hex.u64(a.stage1);
      return out;
    }),
    ...(view.nonCoherentDma === undefined ? {} : { nonCoherentDma: view.nonCoherentDma }),
  };
}

export function decodeHostView(wire: WireHostView): HostView {
  return {
    attachments: wire.attachments.map((a) => {
      const out: HostView["attachments"][number] = { sid: a.sid, hwptId: a.hwptId, kind: a.kind };
      if (a.pasid !== undefined) out.pasid = a.pasid;
      if (a.stage1 !== undefined) out.stage1 = hexToU64(a.stage1);
      return out;
    }),
    ...(wire.nonCoherentDma === undefined ? {} : { nonCoherentDma: wire.nonCoherentDma }),
  };
}

/** User buffers keyed by pointer; keys are written in canonical hex64 form. */
export function encodeBufferMap(
  map: Record<string, Uint8Array>,
  hex: HexEncoder = HEX,
): Record<Hex64, HexBytes> {
  const out: Record<Hex64, HexBytes> = {};
  for (const key of Object.keys(map).sort()) {
    const bytes = map[key];
    if (bytes !== undefined) out[canonicalPointer(key)] = hex.bytes(bytes);
  }
  return out;
}

export function decodeBufferMap(wire: Record<Hex64, HexBytes>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(wire)) out[key] = hexToBytes(value);
  return out;
}

/** Pointers may be given as decimal or hex strings in-process; the wire uses hex64. */
function canonicalPointer(key: string): Hex64 {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(key)) throw new RangeError(`buffer key is not a pointer: ${key}`);
  return u64ToHex(BigInt(key));
}

export function encodeIoctlResult(result: IoctlResult, hex: HexEncoder = HEX): WireIoctlResult {
  const out: WireIoctlResult = { errno: result.errno, bytes: hex.bytes(result.bytes) };
  if (result.out !== undefined) out.out = encodeBufferMap(result.out, hex);
  return out;
}

export function decodeIoctlResult(wire: WireIoctlResult): IoctlResult {
  const out: IoctlResult = { errno: wire.errno, bytes: hexToBytes(wire.bytes) };
  if (wire.out !== undefined) out.out = decodeBufferMap(wire.out);
  return out;
}
