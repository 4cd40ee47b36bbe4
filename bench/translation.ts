/**
 * Translation throughput of the reference vIOMMU (issue: foundation and the reference vIOMMU).
 *
 * Cases, each a 4-level second-stage walk in legacy mode (aw-bits 48) over 1,024 distinct pages:
 * - cold walk: IOTLB and paging-structure caches off, so every translation walks all four levels
 *   (the context cache stays on: a "cold walk" is an IOTLB miss, not a context miss);
 * - cold walk, all caches off: the root and context entries are read too;
 * - IOTLB miss with the paging-structure caches on: the walk starts from the cached PDE and reads
 *   only the PTE;
 * - IOTLB hit: the same addresses with the IOTLB warm;
 * - 4 KiB and 2 MiB pages;
 * - the floor: a bare four-level walk over one Uint32Array, no checks beyond presence.
 * Targets (one core): cold walk >= 2 M/s, IOTLB hit >= 10 M/s, reference cold walk within 3x of the bare walk.
 *
 * Each timed sample is one pass over all the case's pages (`batch` translations), so the timer's own cost
 * (a clock read per sample, several hundred ns) does not swamp a translation that takes tens of ns;
 * ops/s is translations per second of CPU time (see cpuMilliseconds): batch / mean sample time.
 */
import { Bench } from "tinybench";
import type { VIommuConfig } from "../src/contract/types.ts";
import { legacyViommu } from "../src/contract/viommu-options.ts";
import { writeWords } from "../src/memory/physical-memory.ts";
import { SparseMemory } from "../src/memory/sparse-memory.ts";
import { hi32, lo32 } from "../src/paging/address.ts";
import { encodeLegacyContext } from "../src/spec/context-entry.ts";
import { encodeSsEntry } from "../src/spec/paging-entry.ts";
import { encodeLegacyRoot } from "../src/spec/root-entry.ts";
import type { CacheCapacities } from "../src/vtd/caches.ts";
import type { TranslationRequest } from "../src/vtd/interfaces.ts";
import { VIommu } from "../src/vtd/viommu.ts";

const PAGES = 1024;
const SID = 0x08;
const MEM = 1 << 30;

const config: VIommuConfig = legacyViommu({ hawBits: 48, faultRecords: 8 });

/** Tables: root 0x1000, context 0x2000, PML4 0x3000, PDPT 0x4000, PD 0x5000, PTs from 0x10000. */
function buildTables(mem: SparseMemory, large: boolean): void {
  writeWords(mem, 0x1000, encodeLegacyRoot({ present: true, ctp: 0x2000 }));
  writeWords(
    mem,
    0x2000 + SID * 16,
    encodeLegacyContext({ present: true, tt: 0, ssptptr: 0x3000, aw: 2, did: 1 }),
  );
  writeWords(mem, 0x3000, [encodeSsEntry({ read: true, write: true, addr: 0x4000 })]);
  writeWords(mem, 0x4000, [encodeSsEntry({ read: true, write: true, addr: 0x5000 })]);
  // IOVA page i (4 KiB) or 2 MiB page i maps onto data starting at 256 MiB.
  for (let pd = 0; pd < (large ? PAGES / 2 : PAGES / 512); pd++) {
    const entry = large
      ? encodeSsEntry({ read: true, write: true, pageSize: true, addr: 0x1000_0000 + pd * 0x20_0000 })
      : encodeSsEntry({ read: true, write: true, addr: 0x10000 + pd * 0x1000 });
    writeWords(mem, 0x5000 + pd * 8, [entry]);
    if (!large) {
      for (let pt = 0; pt < 512; pt++) {
        const page = pd * 512 + pt;
        writeWords(mem, 0x10000 + pd * 0x1000 + pt * 8, [
          encodeSsEntry({ read: true, write: true, addr: 0x1000_0000 + page * 0x1000 }),
        ]);
      }
    }
  }
}

function referenceCase(large: boolean, capacities: CacheCapacities) {
  const mem = new SparseMemory(MEM);
  buildTables(mem, large);
  const viommu = new VIommu(config, mem, { capacities });
  viommu.registers.write(0x20, 0x1000n, 8);
  viommu.registers.write(0x18, 1n << 30n, 4);
  viommu.registers.write(0x18, 1n << 31n, 4);
  const step = large ? 0x20_0000n : 0x1000n;
  const count = large ? PAGES / 2 : PAGES;
  const reqs: TranslationRequest[] = [];
  for (let i = 0; i < count; i++) {
    const iova = BigInt(i) * step + 0x18n;
    reqs.push({ sid: SID, priv: false, iovaHi: hi32(iova), iovaLo: lo32(iova), write: false });
  }
  // Check once that the case translates what it claims to.
  const first = viommu.translate(reqs[1] as TranslationRequest);
  const expected = 0x1000_0000 + Number(step) + 0x18;
  if (!first.ok || !("hpa" in first) || first.hpa !== expected)
    throw new Error(`bench setup: bad translation`);
  return {
    batch: count,
    fn: () => {
      for (let i = 0; i < count; i++) {
        const r = viommu.translate(reqs[i] as TranslationRequest);
        if (!r.ok) throw new Error("bench: unexpected fault");
      }
    },
  };
}

/** The floor: a bare 4-level walk over a flat Uint32Array, presence checks only. */
function bareCase() {
  const words = new Uint32Array(MEM / 4 / 4); // 256 MiB is plenty for the tables
  const put = (addr: number, lo: number) => {
    words[addr >>> 2] = lo >>> 0;
  };
  put(0x3000, 0x4000 | 3);
  put(0x4000, 0x5000 | 3);
  for (let pd = 0; pd < PAGES / 512; pd++) {
    put(0x5000 + pd * 8, (0x10000 + pd * 0x1000) | 3);
    for (let pt = 0; pt < 512; pt++)
      put(0x10000 + pd * 0x1000 + pt * 8, (0x1000_0000 + (pd * 512 + pt) * 0x1000) | 3);
  }
  const iovas = Array.from({ length: PAGES }, (_, i) => i * 0x1000 + 0x18);
  // 2^(12 + 9 × (level − 1)) per level, computed once: a power per level per walk would be most of
  // the floor's time and make it no floor at all.
  const levelDivisor = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39];
  let sink = 0;
  return {
    batch: PAGES,
    fn: () => {
      for (let i = 0; i < PAGES; i++) {
        const iova = iovas[i] as number;
        let table = 0x3000;
        for (let level = 4; level >= 1; level--) {
          const index = Math.floor(iova / (levelDivisor[level] as number)) & 0x1ff;
          const lo = words[(table + index * 8) >>> 2] as number;
          if ((lo & 3) === 0) throw new Error("bare walk: not present");
          table = lo & 0xfffff000;
        }
        sink ^= table + (iova & 0xfff);
      }
      if (sink === -1) throw new Error("unreachable");
    },
  };
}

interface Case {
  /** Translations per call of fn. */
  batch: number;
  fn: () => void;
}

/**
 * The clock: CPU time of this process in ms, not wall time. The targets are per core; on a shared
 * machine wall time also counts the time the process waits for a core, which is not translation.
 */
function cpuMilliseconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export interface Figure {
  name: string;
  opsPerSecond: number;
}

export async function runTranslationBench(timeMs = 1000): Promise<Figure[]> {
  const bench = new Bench({ time: timeMs, warmup: true, now: cpuMilliseconds });
  const cold = { context: 64, pasid: 64, iotlb: 0, psc: 0 };
  const allOff = { context: 0, pasid: 0, iotlb: 0, psc: 0 };
  const warm = { context: 64, pasid: 64, iotlb: 4096, psc: 0 };
  const pscOnly = { context: 64, pasid: 64, iotlb: 0, psc: 64 };
  const cases = new Map<string, Case>([
    ["bare 4-level walk (floor)", bareCase()],
    ["reference cold walk, 4 KiB", referenceCase(false, cold)],
    ["reference cold walk, 2 MiB", referenceCase(true, cold)],
    ["reference cold walk, all caches off, 4 KiB", referenceCase(false, allOff)],
    ["reference IOTLB miss, PDE cached, 4 KiB", referenceCase(false, pscOnly)],
    ["reference IOTLB hit, 4 KiB", referenceCase(false, warm)],
    ["reference IOTLB hit, 2 MiB", referenceCase(true, warm)],
  ]);
  for (const [name, c] of cases) bench.add(name, c.fn);
  await bench.run();
  return bench.tasks.map((t) => {
    // Mean sample time in ms (one sample = one batch).
    const r = t.result as { latency?: { mean: number } } | undefined;
    const ms = r?.latency?.mean ?? 0;
    const batch = cases.get(t.name)?.batch ?? 1;
    return { name: t.name, opsPerSecond: ms > 0 ? (batch * 1000) / ms : 0 };
  });
}
