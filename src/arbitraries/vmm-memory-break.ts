/**
 * Malformed guest memory maps: one region of a well-formed map made unaligned, reaching past the
 * memory size, empty, or overlapping its neighbour. The VMM must refuse such a configuration at
 * reset with a `config` error naming the region [VMM-COMPAT-10]; building guest RAM from it would
 * leave addresses that are memory twice, or half a page.
 */
import fc from "fast-check";
import type { MemoryRegion, PlatformConfig } from "../contract/types.ts";

export const MEMORY_BREAKS = ["unaligned-gpa", "unaligned-size", "past-end", "empty", "overlap"] as const;
export type MemoryBreak = (typeof MEMORY_BREAKS)[number];

export function memoryBreakArb(): fc.Arbitrary<MemoryBreak> {
  return fc.constantFrom(...MEMORY_BREAKS);
}

/** The memory map with its last region broken as `how` says. */
export function breakMemory(memory: PlatformConfig["memory"], how: MemoryBreak): PlatformConfig["memory"] {
  const size = memory.size;
  const regions: MemoryRegion[] =
    memory.regions.length > 0 ? memory.regions.map((r) => ({ ...r })) : [{ gpa: 0n, size, readOnly: false }];
  const last = regions.at(-1) as MemoryRegion;
  switch (how) {
    case "unaligned-gpa":
      last.gpa += 0x800n;
      last.size -= 0x1000n;
      break;
    case "unaligned-size":
      last.size -= 0x800n;
      break;
    case "past-end":
      last.size += 0x1000n;
      break;
    case "empty":
      regions.push({ gpa: last.gpa, size: 0n, readOnly: false });
      break;
    case "overlap":
      regions.push({ gpa: last.gpa + last.size - 0x1000n, size: 0x1000n, readOnly: false });
      break;
  }
  return { size, regions };
}
