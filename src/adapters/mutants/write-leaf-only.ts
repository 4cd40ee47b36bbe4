/**
 * Bug: write permission is taken from the leaf entry alone: a non-leaf entry with R/W = 0
 * (first stage) or W = 0 (second stage) no longer makes the region read-only.
 * Breaks [VTD-SS-3] and [VTD-FS-6] (rights are cumulative over every entry of the walk).
 *
 * Put in without copying the walkers: the walk reads memory through a lens that shows bit 1
 * (R/W, W) set in every present non-leaf entry. A first pass finds the leaf (the last entry read);
 * the second walks with the lens; A/D writes keep the entry's real bit 1.
 */
import type { PhysicalMemory } from "../../memory/physical-memory.ts";
import type { PagingResult } from "../../paging/index.ts";
import type { Mutant } from "./types.ts";

const W_BIT = 2;

/** A view of mem whose present entries (bit 0 set, 8-byte aligned) read with W set, except `leaf`. */
function lens(mem: PhysicalMemory, leaf: number, record: { last: number }, writes: boolean): PhysicalMemory {
  return {
    size: mem.size,
    contains: (a, n) => mem.contains(a, n),
    read: (a, n) => mem.read(a, n),
    write: (a, d) => {
      if (writes) mem.write(a, d);
    },
    readU32(addr) {
      const v = mem.readU32(addr);
      if (addr % 8 !== 0) return v;
      record.last = addr;
      return addr !== leaf && (v & 1) === 1 ? (v | W_BIT) >>> 0 : v;
    },
    writeU32(addr, value) {
      if (!writes) return;
      // A/D updates: keep the entry's own W bit.
      mem.writeU32(addr, ((value & ~W_BIT) | (mem.readU32(addr) & W_BIT)) >>> 0);
    },
  };
}

type Walk<A extends unknown[]> = (mem: PhysicalMemory, ...rest: A) => PagingResult;

function leafOnly<A extends unknown[]>(walk: Walk<A>): Walk<A> {
  return (mem, ...rest) => {
    const probe = { last: -1 };
    walk(lens(mem, -1, probe, false), ...rest);
    return walk(lens(mem, probe.last, { last: -1 }, true), ...rest);
  };
}

export const writeLeafOnly: Mutant = {
  id: "write-leaf-only",
  title: "write permission taken from the leaf entry only",
  layer: "viommu",
  rules: ["VTD-SS-3", "VTD-FS-6"],
  hooks: {
    platform(vm) {
      const t = vm.viommu.translator;
      t.walkFirstStage = leafOnly(t.walkFirstStage);
      t.walkSecondStage = leafOnly(t.walkSecondStage);
    },
  },
};
