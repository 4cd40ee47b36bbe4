/**
 * 64-bit words as bigint, for encoders and decoders of architectural structures.
 * Hot paths (paging walks) read 32-bit halves instead; see src/memory.
 * Bit positions follow the VT-d specification: bit 0 is the least significant.
 */

export type U64 = bigint;

export const U64_MASK = (1n << 64n) - 1n;

/** Mask of bits hi..lo inclusive. */
export function mask(hi: number, lo: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** Field hi..lo of a word, shifted down. */
export function bits(word: bigint, hi: number, lo: number): bigint {
  return (word >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
}

/** Field hi..lo as a number; the field must be at most 53 bits wide. */
export function field(word: bigint, hi: number, lo: number): number {
  return Number(bits(word, hi, lo));
}

export function bit(word: bigint, n: number): boolean {
  return ((word >> BigInt(n)) & 1n) === 1n;
}

/** Word with field hi..lo replaced by value (value is masked to the field). */
export function withBits(word: bigint, hi: number, lo: number, value: bigint | number): bigint {
  const m = mask(hi, lo);
  return (word & ~m & U64_MASK) | ((BigInt(value) << BigInt(lo)) & m);
}

export function withBit(word: bigint, n: number, on: boolean): bigint {
  return withBits(word, n, n, on ? 1n : 0n);
}

/** Bits 63:12 of an address as a page-aligned number (addresses of valid structures fit in 52 bits). */
export function pageAddress(word: bigint, hi = 63): number {
  return Number(bits(word, hi, 12) << 12n);
}

/** Little-endian bytes of consecutive 64-bit words. */
export function wordsToBytes(words: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => {
    view.setBigUint64(i * 8, w & U64_MASK, true);
  });
  return out;
}

export function bytesToWords(bytes: Uint8Array, count = bytes.length >> 3): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) out.push(view.getBigUint64(i * 8, true));
  return out;
}

export function hex(v: bigint | number, digits = 0): string {
  return `0x${v.toString(16).padStart(digits, "0")}`;
}
