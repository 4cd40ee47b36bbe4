/**
 * Context entries (VT-d 5.10 §9.3 legacy, 16 bytes; §9.4 scalable, 32 bytes).
 * See spec/root-context.md.
 */
import { aboveHaw, type EntryCaps } from "./entry-caps.ts";
import { mask } from "./word.ts";

const PTR = mask(63, 12);
const b = (v: boolean | undefined, n: number): bigint => (v ? 1n << BigInt(n) : 0n);
const bit = (w: bigint, n: number): boolean => ((w >> BigInt(n)) & 1n) === 1n;

/** Legacy translation types (TT). */
export const TT = { TRANSLATE: 0, TRANSLATE_DEVTLB: 1, PASS_THROUGH: 2, RESERVED: 3 } as const;

export interface LegacyContextEntry {
  present: boolean;
  fpd?: boolean;
  /** TT, bits 3:2. */
  tt: number;
  /** Second-stage table pointer. */
  ssptptr: number | bigint;
  /** AW, bits 66:64: 1 = 39-bit/3-level, 2 = 48/4, 3 = 57/5. */
  aw: number;
  did: number;
}

/** [VTD-CTX-1] Encode a legacy context entry; `extra` bits are OR-ed in per word. */
export function encodeLegacyContext(e: LegacyContextEntry, extra: readonly bigint[] = []): [bigint, bigint] {
  const w0 = (BigInt(e.ssptptr) & PTR) | (BigInt(e.tt & 3) << 2n) | b(e.fpd, 1) | b(e.present, 0);
  const w1 = BigInt(e.aw & 7) | (BigInt(e.did & 0xffff) << 8n);
  return [w0 | (extra[0] ?? 0n), w1 | (extra[1] ?? 0n)];
}

export function decodeLegacyContext(
  w: readonly bigint[],
): Required<LegacyContextEntry> & { ssptptr: number } {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return {
    present: bit(w0, 0),
    fpd: bit(w0, 1),
    tt: Number((w0 >> 2n) & 3n),
    ssptptr: Number(w0 & mask(51, 12)),
    aw: Number(w1 & 7n),
    did: Number((w1 >> 8n) & 0xffffn),
  };
}

/** [VTD-CTX-2] Reserved bits of a present legacy context entry, per word. */
export function legacyContextReserved(
  w: readonly bigint[],
  caps: Pick<EntryCaps, "haw" | "domainIdBits">,
): [bigint, bigint] {
  const didRes = caps.domainIdBits >= 16 ? 0n : mask(23, 8 + caps.domainIdBits);
  return [
    (w[0] ?? 0n) & (mask(11, 4) | aboveHaw(caps.haw)),
    (w[1] ?? 0n) & (mask(63, 24) | (1n << 7n) | didRes),
  ];
}

export interface ScalableContextEntry {
  present: boolean;
  fpd?: boolean;
  /** Device-TLB enable (reserved without ECAP.DT). */
  dte?: boolean;
  /** PASID enable: requests with PASID allowed. */
  paside?: boolean;
  /** Page-request enable (reserved without ECAP.PRS). */
  pre?: boolean;
  hpte?: boolean;
  eptr?: boolean;
  /** PASID directory size: 2^(pdts + 7) directory entries. */
  pdts: number;
  pasidDirPtr: number | bigint;
  /** PASID used for requests without PASID. */
  ridPasid?: number;
  ridPriv?: boolean;
}

/** [VTD-CTX-3] Encode a scalable-mode context entry (four words). */
export function encodeScalableContext(
  e: ScalableContextEntry,
  extra: readonly bigint[] = [],
): [bigint, bigint, bigint, bigint] {
  const w0 =
    (BigInt(e.pasidDirPtr) & PTR) |
    (BigInt(e.pdts & 7) << 9n) |
    b(e.eptr, 6) |
    b(e.hpte, 5) |
    b(e.pre, 4) |
    b(e.paside, 3) |
    b(e.dte, 2) |
    b(e.fpd, 1) |
    b(e.present, 0);
  const w1 = BigInt((e.ridPasid ?? 0) & 0xfffff) | b(e.ridPriv, 20);
  return [w0 | (extra[0] ?? 0n), w1 | (extra[1] ?? 0n), extra[2] ?? 0n, extra[3] ?? 0n];
}

export function decodeScalableContext(
  w: readonly bigint[],
): Required<ScalableContextEntry> & { pasidDirPtr: number } {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return {
    present: bit(w0, 0),
    fpd: bit(w0, 1),
    dte: bit(w0, 2),
    paside: bit(w0, 3),
    pre: bit(w0, 4),
    hpte: bit(w0, 5),
    eptr: bit(w0, 6),
    pdts: Number((w0 >> 9n) & 7n),
    pasidDirPtr: Number(w0 & mask(51, 12)),
    ridPasid: Number(w1 & 0xfffffn),
    ridPriv: bit(w1, 20),
  };
}

/**
 * [VTD-CTX-4] Reserved bits of a present scalable-mode context entry, per word: bits 8:7, 63:HAW,
 * 255:85, and each optional field whose capability is absent (DTE/DT, PASIDE/PASID, PRE/PRS,
 * HPTE/HPTS, EPTR/PTRS, RID_PASID/RPS, RID_PRIV/RPRIVS).
 */
export function scalableContextReserved(
  w: readonly bigint[],
  caps: EntryCaps,
): [bigint, bigint, bigint, bigint] {
  const m0 =
    mask(8, 7) |
    aboveHaw(caps.haw) |
    b(!caps.dt, 2) |
    b(!caps.pasid, 3) |
    b(!caps.prs, 4) |
    b(!caps.hpts, 5) |
    b(!caps.ptrs, 6);
  const m1 = mask(63, 21) | (caps.rps ? 0n : mask(19, 0)) | b(!caps.rprivs, 20);
  return [(w[0] ?? 0n) & m0, (w[1] ?? 0n) & m1, w[2] ?? 0n, w[3] ?? 0n];
}
