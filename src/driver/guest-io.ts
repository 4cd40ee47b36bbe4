/**
 * Guest-memory access through the platform surface only (writeGuest / readGuest), in the units
 * the driver thinks in: little-endian 32- and 64-bit words.
 */

import type { PlatformSurface } from "../contract/types.ts";
import { bytesToWords, wordsToBytes } from "../spec/word.ts";

export type GuestMemory = Pick<PlatformSurface, "writeGuest" | "readGuest">;

export async function writeGuestWords(mem: GuestMemory, gpa: bigint | number, words: readonly bigint[]) {
  await mem.writeGuest(BigInt(gpa), wordsToBytes(words));
}

export async function readGuestWords(
  mem: GuestMemory,
  gpa: bigint | number,
  count: number,
): Promise<bigint[]> {
  const bytes = await mem.readGuest(BigInt(gpa), count * 8);
  return bytesToWords(bytes, count);
}

export async function writeGuestU32(mem: GuestMemory, gpa: bigint | number, value: number): Promise<void> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  await mem.writeGuest(BigInt(gpa), b);
}

export async function readGuestU32(mem: GuestMemory, gpa: bigint | number): Promise<number> {
  const b = await mem.readGuest(BigInt(gpa), 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}
