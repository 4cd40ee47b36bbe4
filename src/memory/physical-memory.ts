/**
 * A physical address space as the IOMMU and the devices see it.
 * Addresses are numbers: every physical address this suite models fits in 52 bits.
 * [VTD-MEM-1] Unwritten memory reads as zeros. [VTD-MEM-2] An access that is not
 * wholly inside the space fails; the walker turns that into an access-error fault.
 */
export interface PhysicalMemory {
  /** Bytes in the space; valid addresses are 0 .. size-1. */
  readonly size: number;
  /** True when [addr, addr+len) lies inside the space. */
  contains(addr: number, len: number): boolean;
  /** Little-endian 32-bit word at a 4-byte-aligned address inside the space. */
  readU32(addr: number): number;
  writeU32(addr: number, value: number): void;
  read(addr: number, len: number): Uint8Array;
  write(addr: number, data: Uint8Array): void;
}

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** Low 32 bits of the 64-bit word at addr (8-byte aligned). */
export function readLo(mem: PhysicalMemory, addr: number): number {
  return mem.readU32(addr);
}

/** High 32 bits of the 64-bit word at addr (8-byte aligned). */
export function readHi(mem: PhysicalMemory, addr: number): number {
  return mem.readU32(addr + 4);
}

export function readU64(mem: PhysicalMemory, addr: number): bigint {
  return (BigInt(mem.readU32(addr + 4)) << 32n) | BigInt(mem.readU32(addr));
}

export function writeU64(mem: PhysicalMemory, addr: number, value: bigint): void {
  mem.writeU32(addr, Number(value & 0xffffffffn));
  mem.writeU32(addr + 4, Number((value >> 32n) & 0xffffffffn));
}

/** Consecutive 64-bit words starting at addr. */
export function readWords(mem: PhysicalMemory, addr: number, count: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) out.push(readU64(mem, addr + i * 8));
  return out;
}

export function writeWords(mem: PhysicalMemory, addr: number, words: readonly bigint[]): void {
  words.forEach((w, i) => {
    writeU64(mem, addr + i * 8, w);
  });
}
