/**
 * Queued-invalidation descriptors (VT-d 5.10 §6.5.2.1-§6.5.2.9): encode, decode with
 * reserved-field detection. What each one asks to drop is read by its users: the reference
 * (src/vtd/descriptor-scope.ts) and the oracle (src/oracle/coverage.ts), each its own way.
 * The type is 7 bits: w0[11:9] ‖ w0[3:0]. 128-bit descriptors are 2 words, 256-bit ones 4;
 * a 128-bit type in a 256-bit queue must have its upper 128 bits zero. See spec/queue.md.
 */
import { bit, field, mask, U64_MASK, withBit, withBits } from "./word.ts";

export const DescriptorType = {
  CONTEXT_CACHE: 0x1,
  IOTLB: 0x2,
  DEVICE_TLB: 0x3,
  IEC: 0x4,
  WAIT: 0x5,
  PASID_IOTLB: 0x6,
  PASID_CACHE: 0x7,
  PASID_DEVICE_TLB: 0x8,
} as const;

export type DescriptorWidth = 128 | 256;

export type Descriptor =
  /** g: 1 global, 2 domain, 3 device. */
  | { kind: "context-cache"; g: number; did: number; sid: number; fm: number }
  /** g: 1 global, 2 domain, 3 page-selective-within-domain. */
  | {
      kind: "iotlb";
      g: number;
      dr: boolean;
      dw: boolean;
      did: number;
      am: number;
      ih: boolean;
      addr: bigint;
    }
  | { kind: "device-tlb"; sid: number; pfsid: number; mip: number; s: boolean; addr: bigint }
  /** g: false global, true index-selective. */
  | { kind: "iec"; g: boolean; iidx: number; im: number }
  | {
      kind: "wait";
      intr: boolean;
      sw: boolean;
      fn: boolean;
      pd: boolean;
      statusData: number;
      statusAddr: bigint;
    }
  /** g: 2 PASID-selective, 3 page-selective-within-PASID. */
  | { kind: "pasid-iotlb"; g: number; did: number; pasid: number; am: number; ih: boolean; addr: bigint }
  /** g: 0 domain, 1 PASID-selective-within-domain, 3 global. */
  | { kind: "pasid-cache"; g: number; did: number; pasid: number }
  | {
      kind: "pasid-device-tlb";
      sid: number;
      pfsid: number;
      mip: number;
      pasid: number;
      gi: boolean;
      s: boolean;
      addr: bigint;
    };

export type DescriptorKind = Descriptor["kind"];

export const KIND_TYPE: Record<DescriptorKind, number> = {
  "context-cache": DescriptorType.CONTEXT_CACHE,
  iotlb: DescriptorType.IOTLB,
  "device-tlb": DescriptorType.DEVICE_TLB,
  iec: DescriptorType.IEC,
  wait: DescriptorType.WAIT,
  "pasid-iotlb": DescriptorType.PASID_IOTLB,
  "pasid-cache": DescriptorType.PASID_CACHE,
  "pasid-device-tlb": DescriptorType.PASID_DEVICE_TLB,
};

/** [VTD-QI-5] Types 6-8 exist only as 256-bit descriptors. */
export function isWideOnlyType(type: number): boolean {
  return (
    type === DescriptorType.PASID_IOTLB ||
    type === DescriptorType.PASID_CACHE ||
    type === DescriptorType.PASID_DEVICE_TLB
  );
}

/** The 7-bit type field of a descriptor's first word. */
export function descriptorType(w0: bigint): number {
  return (field(w0, 11, 9) << 4) | field(w0, 3, 0);
}

export interface DecodeOptions {
  width: DescriptorWidth;
  /** ECAP.PDS: the wait descriptor's PD bit is defined (else reserved). */
  pageRequestDrain?: boolean;
  /** ECAP.DIT: PFSID and MIP of device-TLB descriptors are defined (else reserved). */
  deviceTlbThrottle?: boolean;
}

export type DescriptorDecode =
  | { ok: true; descriptor: Descriptor }
  | { ok: false; error: "invalid-type" | "reserved"; type: number; detail: string };

const PFSID_MIP_W0_TYPE3 = mask(15, 12) | mask(20, 16) | mask(63, 52);
const PFSID_MIP_W0_TYPE8 = mask(8, 4) | mask(15, 12) | mask(63, 52);

/**
 * [VTD-QI-15] Reserved (must-be-zero) bits of each word, per type, from the figures of
 * §6.5.2. Fields the hardware ignores (DID bits above the domain-id width, address bits
 * above MGAW/HAW) are not reserved.
 */
function reservedMasks(type: number, opts: DecodeOptions): bigint[] {
  switch (type) {
    case DescriptorType.CONTEXT_CACHE:
      return [mask(8, 6) | mask(15, 12) | mask(63, 50), U64_MASK];
    case DescriptorType.IOTLB:
      return [mask(8, 8) | mask(15, 12) | mask(63, 32), mask(11, 7)];
    case DescriptorType.DEVICE_TLB:
      return [
        mask(8, 4) | mask(31, 21) | mask(51, 48) | (opts.deviceTlbThrottle ? 0n : PFSID_MIP_W0_TYPE3),
        mask(11, 1),
      ];
    case DescriptorType.IEC:
      return [mask(8, 5) | mask(26, 12) | mask(63, 48), U64_MASK];
    case DescriptorType.WAIT:
      return [mask(8, 8) | mask(31, 12) | (opts.pageRequestDrain ? 0n : mask(7, 7)), mask(1, 0)];
    case DescriptorType.PASID_IOTLB:
      return [mask(8, 6) | mask(15, 12) | mask(63, 52), mask(11, 7), U64_MASK, U64_MASK];
    case DescriptorType.PASID_CACHE:
      return [mask(8, 6) | mask(15, 12) | mask(63, 52), U64_MASK, U64_MASK, U64_MASK];
    case DescriptorType.PASID_DEVICE_TLB:
      return [opts.deviceTlbThrottle ? 0n : PFSID_MIP_W0_TYPE8, mask(10, 1), U64_MASK, U64_MASK];
    default:
      return [];
  }
}

/** [VTD-QI-16] Reserved granularity encodings make a descriptor invalid. */
function granularityValid(d: Descriptor): boolean {
  switch (d.kind) {
    case "context-cache":
    case "iotlb":
      return d.g !== 0;
    case "pasid-iotlb":
      return d.g === 2 || d.g === 3;
    case "pasid-cache":
      return d.g !== 2;
    default:
      return true;
  }
}

function fields(type: number, w: readonly bigint[]): Descriptor {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  switch (type) {
    case DescriptorType.CONTEXT_CACHE:
      return {
        kind: "context-cache",
        g: field(w0, 5, 4),
        did: field(w0, 31, 16),
        sid: field(w0, 47, 32),
        fm: field(w0, 49, 48),
      };
    case DescriptorType.IOTLB:
      return {
        kind: "iotlb",
        g: field(w0, 5, 4),
        dw: bit(w0, 6),
        dr: bit(w0, 7),
        did: field(w0, 31, 16),
        am: field(w1, 5, 0),
        ih: bit(w1, 6),
        addr: w1 & mask(63, 12),
      };
    case DescriptorType.DEVICE_TLB:
      return {
        kind: "device-tlb",
        sid: field(w0, 47, 32),
        pfsid: (field(w0, 63, 52) << 4) | field(w0, 15, 12),
        mip: field(w0, 20, 16),
        s: bit(w1, 0),
        addr: w1 & mask(63, 12),
      };
    case DescriptorType.IEC:
      return { kind: "iec", g: bit(w0, 4), im: field(w0, 31, 27), iidx: field(w0, 47, 32) };
    case DescriptorType.WAIT:
      return {
        kind: "wait",
        intr: bit(w0, 4),
        sw: bit(w0, 5),
        fn: bit(w0, 6),
        pd: bit(w0, 7),
        statusData: field(w0, 63, 32),
        statusAddr: w1 & mask(63, 2),
      };
    case DescriptorType.PASID_IOTLB:
      return {
        kind: "pasid-iotlb",
        g: field(w0, 5, 4),
        did: field(w0, 31, 16),
        pasid: field(w0, 51, 32),
        am: field(w1, 5, 0),
        ih: bit(w1, 6),
        addr: w1 & mask(63, 12),
      };
    case DescriptorType.PASID_CACHE:
      return { kind: "pasid-cache", g: field(w0, 5, 4), did: field(w0, 31, 16), pasid: field(w0, 51, 32) };
    default:
      return {
        kind: "pasid-device-tlb",
        mip: field(w0, 8, 4),
        pfsid: (field(w0, 63, 52) << 4) | field(w0, 15, 12),
        sid: field(w0, 31, 16),
        pasid: field(w0, 51, 32),
        gi: bit(w1, 0),
        s: bit(w1, 11),
        addr: w1 & mask(63, 12),
      };
  }
}

/**
 * [VTD-QI-5] [VTD-QI-15] [VTD-QI-16] Decode one descriptor (2 words for 128-bit, 4 for
 * 256-bit). Checks only what the format itself decides; the queue adds what depends on
 * capabilities and the translation table mode (spec/queue.md).
 */
export function decodeDescriptor(words: readonly bigint[], opts: DecodeOptions): DescriptorDecode {
  const n = opts.width === 256 ? 4 : 2;
  if (words.length < n) throw new RangeError(`a ${opts.width}-bit descriptor needs ${n} words`);
  const w = words.slice(0, n);
  const type = descriptorType(w[0] as bigint);
  if (type < 1 || type > 8) return { ok: false, error: "invalid-type", type, detail: `type ${type}` };
  if (opts.width === 128 && isWideOnlyType(type))
    return { ok: false, error: "invalid-type", type, detail: `type ${type} needs a 256-bit queue` };
  const masks = reservedMasks(type, opts);
  for (let i = 0; i < n; i++) {
    // [VTD-QI-6] 128-bit types in a 256-bit queue: the padding words are reserved.
    const m = masks[i] ?? U64_MASK;
    const bad = (w[i] as bigint) & m;
    if (bad !== 0n)
      return { ok: false, error: "reserved", type, detail: `word ${i} reserved bits 0x${bad.toString(16)}` };
  }
  const descriptor = fields(type, w);
  if (!granularityValid(descriptor))
    return { ok: false, error: "reserved", type, detail: `reserved granularity in type ${type}` };
  return { ok: true, descriptor };
}

const big = (v: boolean): bigint => (v ? 1n : 0n);

function withType(type: number): bigint {
  return withBits(withBits(0n, 3, 0, type & 0xf), 11, 9, type >> 4);
}

/** [VTD-QI-15] Encode a descriptor as 2 (128-bit) or 4 (256-bit) little-endian words. */
export function encodeDescriptor(d: Descriptor, width: DescriptorWidth): bigint[] {
  const type = KIND_TYPE[d.kind];
  if (width === 128 && isWideOnlyType(type)) throw new RangeError(`${d.kind} exists only as 256-bit`);
  let w0 = withType(type);
  let w1 = 0n;
  switch (d.kind) {
    case "context-cache":
      w0 = withBits(w0, 5, 4, d.g);
      w0 = withBits(w0, 31, 16, d.did);
      w0 = withBits(w0, 47, 32, d.sid);
      w0 = withBits(w0, 49, 48, d.fm);
      break;
    case "iotlb":
      w0 = withBits(w0, 5, 4, d.g);
      w0 = withBit(w0, 6, d.dw);
      w0 = withBit(w0, 7, d.dr);
      w0 = withBits(w0, 31, 16, d.did);
      w1 = withBits(d.addr & mask(63, 12), 5, 0, d.am) | (big(d.ih) << 6n);
      break;
    case "device-tlb":
      w0 = withBits(w0, 15, 12, d.pfsid & 0xf);
      w0 = withBits(w0, 20, 16, d.mip);
      w0 = withBits(w0, 47, 32, d.sid);
      w0 = withBits(w0, 63, 52, d.pfsid >> 4);
      w1 = (d.addr & mask(63, 12)) | big(d.s);
      break;
    case "iec":
      w0 = withBit(w0, 4, d.g);
      w0 = withBits(w0, 31, 27, d.im);
      w0 = withBits(w0, 47, 32, d.iidx);
      break;
    case "wait":
      w0 = withBit(w0, 4, d.intr);
      w0 = withBit(w0, 5, d.sw);
      w0 = withBit(w0, 6, d.fn);
      w0 = withBit(w0, 7, d.pd);
      w0 = withBits(w0, 63, 32, d.statusData >>> 0);
      w1 = d.statusAddr & mask(63, 2);
      break;
    case "pasid-iotlb":
      w0 = withBits(w0, 5, 4, d.g);
      w0 = withBits(w0, 31, 16, d.did);
      w0 = withBits(w0, 51, 32, d.pasid);
      w1 = withBits(d.addr & mask(63, 12), 5, 0, d.am) | (big(d.ih) << 6n);
      break;
    case "pasid-cache":
      w0 = withBits(w0, 5, 4, d.g);
      w0 = withBits(w0, 31, 16, d.did);
      w0 = withBits(w0, 51, 32, d.pasid);
      break;
    case "pasid-device-tlb":
      w0 = withBits(w0, 8, 4, d.mip);
      w0 = withBits(w0, 15, 12, d.pfsid & 0xf);
      w0 = withBits(w0, 31, 16, d.sid);
      w0 = withBits(w0, 51, 32, d.pasid);
      w0 = withBits(w0, 63, 52, d.pfsid >> 4);
      w1 = (d.addr & mask(63, 12)) | big(d.gi) | (big(d.s) << 11n);
      break;
  }
  return width === 256 ? [w0, w1, 0n, 0n] : [w0, w1];
}

/**
 * [VTD-QI-17] Device-TLB invalidation size (PCIe ATS encoding): S = 0 is one 4 KiB page;
 * S = 1 takes the lowest 0 bit of ADDR[63:12] at position k, giving 2^(k+1) bytes.
 */
export function deviceTlbRange(addr: bigint, s: boolean): { addr: bigint; size: bigint } {
  const a = addr & mask(63, 12);
  if (!s) return { addr: a, size: 4096n };
  for (let k = 12; k < 64; k++) {
    if (!bit(a, k)) {
      const size = 1n << BigInt(k + 1);
      return { addr: a & ~(size - 1n) & U64_MASK, size };
    }
  }
  return { addr: 0n, size: 1n << 64n };
}
