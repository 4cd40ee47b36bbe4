/**
 * Root entries (VT-d 5.10 §9.1 legacy, §9.2 scalable): 16 bytes, 256 per root table, indexed by bus.
 * See spec/root-context.md.
 */
import { aboveHaw } from "./entry-caps.ts";
import { mask } from "./word.ts";

const PTR = mask(63, 12);

export interface LegacyRootEntry {
  present: boolean;
  /** Context-table pointer (4 KiB aligned). */
  ctp: number | bigint;
}

/** [VTD-ROOT-1] Legacy root entry: w0 = P | CTP; w1 reserved. */
export function encodeLegacyRoot(
  e: LegacyRootEntry,
  extra: readonly [bigint, bigint] = [0n, 0n],
): [bigint, bigint] {
  return [(BigInt(e.ctp) & PTR) | (e.present ? 1n : 0n) | extra[0], extra[1]];
}

export function decodeLegacyRoot(w: readonly bigint[]): { present: boolean; ctp: number } {
  const w0 = w[0] ?? 0n;
  return { present: (w0 & 1n) === 1n, ctp: Number(w0 & mask(51, 12)) };
}

/** [VTD-ROOT-2] Reserved bits of a present legacy root entry, per word. */
export function legacyRootReserved(w: readonly bigint[], haw: number): [bigint, bigint] {
  return [(w[0] ?? 0n) & (mask(11, 1) | aboveHaw(haw)), w[1] ?? 0n];
}

export interface ScalableRootEntry {
  lowerPresent: boolean;
  /** Lower context table: devfn 0..127. */
  lctp: number | bigint;
  upperPresent: boolean;
  /** Upper context table: devfn 128..255. */
  uctp: number | bigint;
}

/** [VTD-ROOT-3] Scalable root entry: w0 = LP | LCTP, w1 = UP | UCTP. */
export function encodeScalableRoot(
  e: ScalableRootEntry,
  extra: readonly [bigint, bigint] = [0n, 0n],
): [bigint, bigint] {
  return [
    (BigInt(e.lctp) & PTR) | (e.lowerPresent ? 1n : 0n) | extra[0],
    (BigInt(e.uctp) & PTR) | (e.upperPresent ? 1n : 0n) | extra[1],
  ];
}

export function decodeScalableRoot(w: readonly bigint[]): {
  lowerPresent: boolean;
  lctp: number;
  upperPresent: boolean;
  uctp: number;
} {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return {
    lowerPresent: (w0 & 1n) === 1n,
    lctp: Number(w0 & mask(51, 12)),
    upperPresent: (w1 & 1n) === 1n,
    uctp: Number(w1 & mask(51, 12)),
  };
}

/**
 * [VTD-ROOT-4] Reserved bits of a scalable root entry: each half is checked when its own
 * present bit is set (bits 11:1 and 63:HAW of that half).
 */
export function scalableRootReserved(w: readonly bigint[], haw: number): [bigint, bigint] {
  const m = mask(11, 1) | aboveHaw(haw);
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  return [(w0 & 1n) === 1n ? w0 & m : 0n, (w1 & 1n) === 1n ? w1 & m : 0n];
}

/** The root-table pointer as latched by GCMD.SRTP (RTADDR at that moment). */
export interface RootPointer {
  /** Root table address (RTADDR bits 63:12). */
  address: number;
  /** Translation table mode, RTADDR bits 11:10: 0 legacy, 1 scalable, 2 reserved, 3 abort-DMA. */
  ttm: number;
}
