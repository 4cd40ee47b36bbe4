/**
 * Bug: the first-stage walk never sets the accessed (A) flag in the entries it uses (EA and D
 * are still set). Breaks [VTD-FS-7] ("Whenever the remapping hardware uses a first-stage
 * paging-structure entry as part of input-address translation, it atomically sets the A field in
 * that entry", VT-d 5.10 §3.6.2; §6.2.4.1 "before caching a translation"); judged by
 * [ORACLE-JUDGE-11] when the guest reads such an entry back.
 *
 * Put in without copying the walker: it walks through a view of memory whose 32-bit writes keep
 * the entry's A bit as it was.
 */
import type { PhysicalMemory } from "../../memory/physical-memory.ts";
import type { Mutant } from "./types.ts";

const A_BIT = 1 << 5;

function keepA(mem: PhysicalMemory): PhysicalMemory {
  return {
    size: mem.size,
    contains: (a, n) => mem.contains(a, n),
    read: (a, n) => mem.read(a, n),
    write: (a, d) => mem.write(a, d),
    readU32: (a) => mem.readU32(a),
    writeU32(addr, value) {
      if (addr % 8 !== 0) return mem.writeU32(addr, value);
      mem.writeU32(addr, ((value & ~A_BIT) | (mem.readU32(addr) & A_BIT)) >>> 0);
    },
  };
}

export const fsAccessedNotSet: Mutant = {
  id: "fs-accessed-not-set",
  title: "first-stage walks never set the accessed (A) flag",
  layer: "viommu",
  rules: ["VTD-FS-7", "ORACLE-JUDGE-11"],
  hooks: {
    platform(vm) {
      const t = vm.viommu.translator;
      const fs = t.walkFirstStage;
      t.walkFirstStage = (mem, ...rest) => fs(keepA(mem), ...rest);
    },
  },
};
