/**
 * Input addresses as two 32-bit unsigned halves, so that the walk loops never touch bigint.
 */

/** Bits 31:0 of a 64-bit address. */
export function lo32(a: bigint): number {
  return Number(BigInt.asUintN(32, a));
}

/** Bits 63:32 of a 64-bit address. */
export function hi32(a: bigint): number {
  return Number(BigInt.asUintN(32, a >> 32n));
}

/** The 9-bit table index of `level` (1..5) for the address (hi, lo). */
export function tableIndex(hi: number, lo: number, level: number): number {
  const s = 3 + 9 * level; // 12 + 9 * (level - 1)
  if (s >= 32) return (hi >>> (s - 32)) & 0x1ff;
  if (s + 9 <= 32) return (lo >>> s) & 0x1ff;
  return ((lo >>> s) | (hi << (32 - s))) & 0x1ff;
}

/** Address bits 51:12 of an entry given as halves, as a number. */
export function entryAddress(lo: number, hi: number): number {
  return (hi & 0xfffff) * 4294967296 + ((lo & 0xfffff000) >>> 0);
}

/** Address bits 51:shift of an entry given as halves (a page frame of 2^shift bytes, shift <= 31). */
export function pageFrame(lo: number, hi: number, shift: number): number {
  return (hi & 0xfffff) * 4294967296 + ((lo & 0xfffff000 & ~((1 << shift) - 1)) >>> 0);
}

/** (hi, lo) as a number; exact only below 2^53 (callers check widths first). */
export function joinHalves(hi: number, lo: number): number {
  return hi * 4294967296 + lo;
}
