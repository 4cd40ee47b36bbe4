/**
 * Kill-time benchmark of the mutant gallery [HARNESS-MUTANT-4]. For each mutant and 10 seeds, the
 * catalogue runs in order against the mutant (as `iommu-conformance mutants` runs it) until a
 * property fails, and that property shrinks its counterexample. Reported, as medians over the
 * seeds: the time from the catalogue's start to the first failing case (target <= 2 s), the time
 * then spent shrinking, the cases the killing property ran, the shrunk trace's length next to the
 * shortest trace we could write by hand, and which properties killed it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { properties } from "../properties/index.ts";
import { createMutantModel, listMutants } from "../src/adapters/mutants.ts";
import { runProperties } from "../src/runner/runner.ts";

const SEEDS = 10;
const RUNS = 100;
export const KILL_TARGET_MS = 2000;

/**
 * Steps of the shortest trace written by hand (reset, writeGuest, writeReg, dma, ioctl calls), each
 * with why it cannot be shorter. Legacy set-up = reset, root entry, context entry, RTADDR, SRTP,
 * TE (6); a 4-level mapping = 4 entries; queued invalidation = IQA, QIE, descriptors, IQT (4).
 */
export const HAND_WRITTEN: Record<string, { steps: number; why: string }> = {
  "psi-mask-off-by-one": {
    steps: 19,
    why: "set-up 6, two 4K leaves under one table 5, fill DMA, remap 1, queue 4, DMA",
  },
  "domain-inv-did-ignored": { steps: 17, why: "set-up 6, mapping 4, fill DMA, remap 1, queue 4, DMA" },
  "domain-inv-keeps-psc": {
    steps: 17,
    why: "set-up 6, mapping 4, fill DMA, PDE made a 2M leaf 1, queue 4, DMA",
  },
  "context-dsi-ignores-fm": {
    steps: 18,
    why: "set-up 6 + a second context entry, mapping 4, fill DMA, clear 1, queue 4, DMA",
  },
  "np-cached-without-cm": {
    steps: 13,
    why: "set-up 6 with the entry not present, mapping 4, DMA, make present 1, DMA",
  },
  "large-page-offset": { steps: 10, why: "set-up 6, a 2M mapping 3, one DMA past the first 4K" },
  "write-leaf-only": { steps: 11, why: "set-up 6, a mapping 4 with a read-only PDE, one write DMA" },
  "haw-unchecked": { steps: 12, why: "set-up 6, mapping 4 to beyond HAW, DMA, FRCD read" },
  "fs1gp-unchecked": {
    steps: 15,
    why: "scalable set-up 9 (root, context, PASID dir + entry, queue for SRTP flush), PML4E + 1G PDPE, DMA, FRCD read, +1",
  },
  "sre-unchecked": {
    steps: 16,
    why: "scalable set-up 9, 4-level mapping 4, supervisor DMA, +2 for PASID entry SRE=0 and QIE",
  },
  "fault-codes-legacy": {
    steps: 16,
    why: "scalable set-up 9, read-only mapping 4, write DMA, FSTS and FRCD reads",
  },
  "fpd-own-entry-ignored": {
    steps: 10,
    why: "set-up 6, context entry P=0 FPD=1, context invalidation, DMA, FRCD read",
  },
  "fs-accessed-not-set": {
    steps: 15,
    why: "scalable set-up 9, 4-level first-stage mapping 4, DMA, read-back of the PML4E",
  },
  "fault-event-mask-ignored": {
    steps: 7,
    why: "reset, root entry, RTADDR, SRTP, TE (every context entry not present), DMA, FECTL read",
  },
  "wait-before-invalidation": {
    steps: 17,
    why: "set-up 6, mapping 4, fill DMA, remap 1, queue 4 (one batch: invalidation + wait), DMA",
  },
  "vmm-host-width-unchecked": { steps: 1, why: "one reset with a host narrower than aw-bits: accepted" },
  "vmm-fs1gp-unchecked": { steps: 1, why: "one reset offering FS1GP over a host without it: accepted" },
  "pasid-global-no-unbind": {
    steps: 22,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, DMA, clear + global 3, DMA, +1",
  },
  "pasid-psi-binds-absent": {
    steps: 19,
    why: "scalable set-up for two devices 11, mapping 4, PASID entry + PSI 3, DMA from the other",
  },
  "pasid-psi-existing-only": {
    steps: 17,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, DMA (blocked, not completed)",
  },
  "pasid-iotlb-not-forwarded": {
    steps: 22,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, DMA, remap 1, P-IOTLB 3, DMA",
  },
  "struct-tail-accepted": { steps: 2, why: "reset, one IOAS_ALLOC with a nonzero tail" },
  "invalidate-entry-num-kept": {
    steps: 5,
    why: "reset, IOAS_ALLOC, nest parent, nested HWPT, HWPT_INVALIDATE with a bad second entry",
  },
  "errata-ro-nest-parent": { steps: 4, why: "reset, IOAS_ALLOC, nest-parent HWPT_ALLOC, read-only IOAS_MAP" },
  "noncoherent-into-enforcing": { steps: 2, why: "reset with an SC and a non-SC device, hostView" },
  "fs-pointer-as-hpa": {
    steps: 18,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, passed-through DMA, +1",
  },
};

export interface MutantFigure {
  id: string;
  /** The property that killed it first, on each seed that killed it (the most frequent first). */
  killers: string[];
  /**
   * Median time from the start of the catalogue, run in order, to the first failing case — the
   * target's measure: how long the suite takes to notice the bug.
   */
  medianFirstFailureMs: number;
  /** Median time from the killing property's own start to its first failing case. */
  medianKillerFirstFailureMs: number;
  /** Median time the killing property then spent shrinking. */
  medianShrinkMs: number;
  /** Median total: finding and shrinking. */
  medianKillMs: number;
  /** Median cases the killing property ran until its first failure. */
  medianCases: number;
  killedSeeds: number;
  /** Median length of the shrunk traces. */
  medianShrunkSteps: number;
  handSteps: number | undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
}

/** Ids by how often they occur, most frequent first. */
function byFrequency(ids: string[]): string[] {
  const n = new Map<string, number>();
  for (const id of ids) n.set(id, (n.get(id) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1]).map(([id, k]) => `${id} ${k}x`);
}

/**
 * For each mutant and seed: the catalogue in order (as `iommu-conformance mutants` runs it), until
 * the first property fails; that one shrinks, and its trace is measured.
 */
export async function runMutantBench(
  onFigure: (f: MutantFigure) => void = () => undefined,
  ids?: string[],
): Promise<MutantFigure[]> {
  const figures: MutantFigure[] = [];
  const outDir = mkdtempSync(join(tmpdir(), "iommu-conformance-bench-"));
  for (const { id } of listMutants()) {
    if (ids !== undefined && !ids.includes(id)) continue;
    const model = await createMutantModel(id);
    const found: number[] = [];
    const own: number[] = [];
    const shrinking: number[] = [];
    const cases: number[] = [];
    const steps: number[] = [];
    const killers: string[] = [];
    try {
      for (let seed = 1; seed <= SEEDS; seed++) {
        let elapsed = 0;
        for (const property of properties) {
          const report = await runProperties([property], {
            adapter: `mutant:${id}`,
            model,
            runs: RUNS,
            seed,
            outDir,
          });
          const r = report.results[0];
          if (r === undefined) continue;
          if (r.status !== "fail") {
            elapsed += r.durationMs;
            continue;
          }
          const first = r.firstFailureMs ?? r.durationMs;
          found.push(elapsed + first);
          own.push(first);
          shrinking.push(r.durationMs - first);
          cases.push(r.runs);
          if (r.traceSteps !== undefined) steps.push(r.traceSteps);
          killers.push(property.id);
          break;
        }
      }
    } finally {
      await model.close();
    }
    const figure: MutantFigure = {
      id,
      killers: byFrequency(killers),
      medianFirstFailureMs: median(found),
      medianKillerFirstFailureMs: median(own),
      medianShrinkMs: median(shrinking),
      medianKillMs: median(found.map((f, i) => f + (shrinking[i] ?? 0))),
      medianCases: median(cases),
      killedSeeds: found.length,
      medianShrunkSteps: median(steps),
      handSteps: HAND_WRITTEN[id]?.steps,
    };
    figures.push(figure);
    onFigure(figure);
  }
  rmSync(outDir, { recursive: true, force: true });
  return figures;
}

/** Print the figures with their target (called from bench/run.ts). */
export async function printMutantBench(ids?: string[]): Promise<void> {
  console.log(
    `mutant kill times (${SEEDS} seeds; the catalogue in order, ${RUNS} cases per property, until the first kill; medians; target: first failure <= ${KILL_TARGET_MS / 1000} s from the catalogue's start; also from the killing property's own start)`,
  );
  const s = (ms: number): string => (Number.isNaN(ms) ? "never" : `${(ms / 1000).toFixed(2)} s`);
  const figures = await runMutantBench((f) => {
    console.log(
      `  ${f.id.padEnd(28)} first failure ${s(f.medianFirstFailureMs).padStart(7)} ${f.medianFirstFailureMs <= KILL_TARGET_MS ? "met   " : "MISSED"}` +
        ` (its killer alone ${s(f.medianKillerFirstFailureMs).padStart(7)})` +
        `  shrinking ${s(f.medianShrinkMs).padStart(7)}  killed ${f.killedSeeds}/${SEEDS}  cases ${f.medianCases}` +
        `  trace ${f.medianShrunkSteps} steps (by hand ${f.handSteps ?? "?"})  by ${f.killers.join(", ")}`,
    );
  }, ids);
  const met = figures.filter((f) => f.medianFirstFailureMs <= KILL_TARGET_MS).length;
  const all = figures.filter((f) => f.killedSeeds === SEEDS).length;
  console.log(
    `  ${figures.length} mutants: killed on every seed ${all}, median first failure within ${KILL_TARGET_MS / 1000} s ${met}`,
  );
}
